<extend>base
<?title?>Choose a contact
<?content?>
<div class="toolbar">
  <form method="get" action="/contacts/pick" role="search">
    <input type="search" name="q" value="{query}" placeholder="Name, e-mail, phone…"
           aria-label="Search contacts" autofocus>
    <button>Search</button>
  </form>
  <span class="grow muted">for {purpose}</span>
  <a class="button" href="{back}">Cancel</a>
</div>
<form method="post" action="/contacts/pick">
{table}
<div class="actions">
  <button name="contact" value="">Nobody in particular</button>
</div>
</form>
</extend>
