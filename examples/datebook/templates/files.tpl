<loop>
<ul class="files">
<?begin?>
<li>
  <span class="grow">
    <a href="/attachments/{id}" download>{filename}</a>
    <span class="muted">{size_text}{@described} · {description}{/described}</span>
  </span>
  <a class="button small" href="/attachments/{id}/delete">Delete…</a>
</li>
<?end?>
</ul>
<?else?>
<p class="empty">No files attached.</p>
</loop>
