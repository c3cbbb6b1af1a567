<loop>
<table class="list">
<thead><tr><th>Name</th><th>E-mail</th><th>Phone</th><th>Birthday</th></tr></thead>
<tbody>
<?begin?>
<tr>
  <td><a href="/contacts/{id}">{name}</a></td>
  <td>{email}</td>
  <td>{phone}</td>
  <td>{birthday}</td>
</tr>
<?end?>
</tbody>
</table>
<?else?>
<p class="empty panel">No contacts found.</p>
</loop>
