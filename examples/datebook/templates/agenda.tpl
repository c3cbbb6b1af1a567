{?rows}<ul class="agenda">
{@rows}<li><span class="date">{day:day}{?start_time}<small>{start_time}{?end_time}–{end_time}{/end_time}</small>{/start_time}</span>
  <span class="grow"><a class="what" href="/appointments/{id}/edit">{title}</a>
    {?contact_name}<span class="muted">with <a href="/contacts/{contact_id}">{contact_name}</a></span>{/contact_name}
    {?place}<span class="muted">· {place}</span>{/place}</span></li>
{/rows}</ul>
{:else}<p class="empty">Nothing planned.</p>{/rows}
