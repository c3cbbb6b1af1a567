<loop>
<ul class="agenda">
<?begin?>
<li>
  <span class="date">{day}{@at}<small>{time}</small>{/at}</span>
  <span class="grow">
    <a class="what" href="/appointments/{id}/edit">{title}</a>
    {@person}<span class="muted">with <a href="/contacts/{id}">{name}</a></span>{/person}
    {@where}<span class="muted">· {place}</span>{/where}
  </span>
</li>
<?end?>
</ul>
<?else?>
<p class="empty">Nothing planned.</p>
</loop>
