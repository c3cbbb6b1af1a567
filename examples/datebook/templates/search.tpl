<extend>base
<?title?>Search
<?content?>
<form class="toolbar" method="get" action="/search" role="search">
  <input type="search" name="q" value="{query}" aria-label="Search everything" autofocus>
  <button>Search</button>
  <span class="grow muted">{summary}</span>
</form>
{@results}
<section class="panel">
  <h2>Contacts</h2>
  {contacts}
</section>
<div class="columns">
  <section class="panel">
    <h2>Appointments</h2>
    {agenda}
  </section>
  <section class="panel">
    <h2>Tasks</h2>
    {todo}
  </section>
</div>
{/results}
</extend>
