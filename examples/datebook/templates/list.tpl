<div class="toolbar">
  <form method="get" role="search"><input type="search" name="q" value="{search}" aria-label="Search this list"{?pick} autofocus{/pick}>
    {@hidden}<input type="hidden" name="{name}" value="{value}">{/hidden}<button>Search</button></form>
  <span class="grow muted">{summary}</span>
  {@buttons}<a class="button{?main} primary{/main}" href="{href}">{label}</a>{/buttons}
</div>
{?sort_bar}<p class="sorting muted">Sort by:
  {@headings}<a href="{url}" aria-sort="{aria_sort}">{label}</a> {arrow}{/headings}</p>{/sort_bar}
{?pick}<form method="post" action="/contacts/pick">{/pick}
<div class="panel">{items}</div>
{?pick}<div class="actions"><button name="contact" value="">Nobody in particular</button></div></form>{/pick}
<nav class="pager">{?previous_url}<a class="button" rel="prev" href="{previous_url}">← Previous</a>{/previous_url}
  {?next_url}<a class="button" rel="next" href="{next_url}">Next →</a>{/next_url}</nav>
