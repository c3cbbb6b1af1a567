<p class="flash" role="status">{message}</p>
