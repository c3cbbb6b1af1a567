<extend>base
<?title?>Contacts
<?content?>
<div class="toolbar">
  <form method="get" action="/contacts" role="search">
    <input type="search" name="q" value="{query}" placeholder="Name, e-mail, phone…"
           aria-label="Search contacts">
    <button>Search</button>
  </form>
  <span class="grow muted">{summary}</span>
  <a class="button primary" href="/contacts/new">New contact</a>
</div>
{table}
</extend>
