<extend>base
<?title?>Tasks
<?content?>
<div class="toolbar">
  <span class="grow"></span>
  <a class="button primary" href="/tasks/new">New task</a>
</div>
<section class="panel">
  <h2>Open</h2>
  {open}
</section>
<section class="panel">
  <h2>Done</h2>
  {done}
</section>
</extend>
