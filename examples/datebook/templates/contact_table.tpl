{?rows}<table class="list">
<thead><tr>{@headings}<th aria-sort="{aria_sort}"><a href="{url}">{label}</a> {arrow}</th>{/headings}{?pick}<th></th>{/pick}</tr></thead>
<tbody>{@rows}<tr><td>{?pick}{name}{:else}<a href="/contacts/{id}">{name}</a>{/pick}</td>
  <td>{email}</td><td>{phone}</td><td>{birthday:day}</td>
  {?pick}<td><button class="small primary" name="contact" value="{id}">Choose</button></td>{/pick}</tr>
{/rows}</tbody></table>
{:else}<p class="empty">No contacts found.</p>{/rows}
