<extend>base
<?title?>Appointments
<?content?>
<div class="toolbar">
  <span class="grow"></span>
  <a class="button primary" href="/appointments/new">New appointment</a>
</div>
<section class="panel">
  <h2>Coming up</h2>
  {coming}
</section>
<section class="panel">
  <h2>Past</h2>
  {past}
</section>
</extend>
