<extend>base
<?title?>{question}
<?content?>
<form class="panel confirm" method="post">
  <p>{details}</p>
  <div class="actions">
    <button type="submit" class="danger">{verb}</button>
    <a class="button" href="{back}">Keep it</a>
  </div>
</form>
</extend>
