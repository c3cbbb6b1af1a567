<div class="panel"><p>{message}</p><p><a href="/">Back to today’s page</a></p></div>
