<p><a href="/categories/new">Add a category</a></p>
<table>
<tr><th>Category</th><th>Items</th><th></th></tr>
{@rows}<tr><td>{name}</td><td class="number">{items}</td>
<td><a href="/categories/{id}/edit">Rename</a>
<form method="post" action="/categories/{id}/delete"><button>Delete</button></form></td></tr>
{/rows}
</table>
