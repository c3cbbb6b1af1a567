<form method="post">
<p>“{name}”{?photo} and its photo{/photo} will be gone for good.</p>
<p><button>Delete it</button> <a href="/items/{id}">Keep it</a></p>
</form>
