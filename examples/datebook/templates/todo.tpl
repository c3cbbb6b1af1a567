{?rows}<ul class="todo">
{@rows}<li class="{?done}done{:else}{?overdue}overdue{/overdue}{/done}">
  <form class="inline" method="post" action="/tasks/{id}/done"><input type="hidden" name="back" value="{back}">
    {?done}<button class="small" title="Mark as not done" aria-label="Mark as not done: {title}">Reopen</button>
    {:else}<button class="small" title="Mark as done" aria-label="Mark as done: {title}">Done</button>{/done}</form>
  <span class="grow"><a class="what" href="/tasks/{id}/edit">{title}</a>
    <span class="badge p{priority}">{priority:priority}</span></span>
  <span class="date">{due:day}</span></li>
{/rows}</ul>
{:else}<p class="empty">Nothing to do.</p>{/rows}
