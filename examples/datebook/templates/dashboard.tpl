<section class="cards">{@cards}<a class="card" href="{href}"><span class="count">{number}</span> {label}</a>{/cards}</section>
<div class="columns">
  <section class="panel"><h2>Coming up</h2>{agenda}
    <p><a class="button small" href="/appointments/new">New appointment</a></p></section>
  <section class="panel"><h2>To do</h2>{todo}
    <p><a class="button small" href="/tasks/new">New task</a></p></section>
</div>
{?birthdays}<section class="panel"><h2>Birthdays in the next 30 days</h2><ul class="agenda">
  {@birthdays}<li><span class="date">{day:day}</span>
    <span class="grow"><a href="/contacts/{id}">{name}</a></span></li>{/birthdays}
</ul></section>{/birthdays}
