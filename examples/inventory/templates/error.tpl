<p>{message}</p>
<p><a href="/">Back to all items</a></p>
