<loop>
<table class="list">
<thead><tr><th>Name</th><th>E-mail</th><th>Phone</th><th></th></tr></thead>
<tbody>
<?begin?>
<tr>
  <td>{name}</td><td>{email}</td><td>{phone}</td>
  <td><button class="small primary" name="contact" value="{id}">Choose</button></td>
</tr>
<?end?>
</tbody>
</table>
<?else?>
<p class="empty panel">No contacts found.</p>
</loop>
