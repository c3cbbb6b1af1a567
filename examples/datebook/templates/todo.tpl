<loop>
<ul class="todo">
<?begin?>
<li class="{state}">
  <form class="inline" method="post" action="/tasks/{id}/done">
    <input type="hidden" name="back" value="{back}">
    <button class="small" title="{toggle}" aria-label="{toggle}: {title}">{mark}</button>
  </form>
  <span class="grow">
    <a class="what" href="/tasks/{id}/edit">{title}</a>
    <span class="badge p{priority}">{priority_name}</span>
  </span>
  <span class="date">{due_text}</span>
</li>
<?end?>
</ul>
<?else?>
<p class="empty">Nothing to do.</p>
</loop>
