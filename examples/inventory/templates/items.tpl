{.search_form}
{?rows}
<table>
{.head}
{@rows}<tr><td><a href="/items/{id}">{name}</a></td><td>{category}</td>
<td class="number">{quantity}</td><td>{bought:date}</td><td class="number">{price:cents}</td></tr>
{/rows}
</table>
{:else}
<p>{?search}Nothing matches “{search}”.{:else}No items yet: <a href="/items/new">add the first one</a>.{/search}</p>
{/rows}
{.pager}
