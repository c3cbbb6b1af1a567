<form class="panel confirm" method="post"><p>{details}</p>
  <div class="actions"><button type="submit" class="danger">Delete</button> <a class="button" href="{back}">Keep it</a></div>
</form>
