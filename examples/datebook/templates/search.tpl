<form class="toolbar" method="get" action="/search" role="search">
  <input type="search" name="q" value="{query}" aria-label="Search everything" autofocus>
  <button>Search</button><span class="grow muted">{summary}</span></form>
{?results}
<section class="panel"><h2>Contacts</h2>{contacts}
  {?more_contacts}<p><a href="{more_contacts}">All the contacts found →</a></p>{/more_contacts}</section>
<div class="columns">
  <section class="panel"><h2>Appointments</h2>{agenda}
    {?more_appointments}<p><a href="{more_appointments}">All the appointments found →</a></p>{/more_appointments}</section>
  <section class="panel"><h2>Tasks</h2>{todo}
    {?more_tasks}<p><a href="{more_tasks}">All the tasks found →</a></p>{/more_tasks}</section>
</div>{/results}
