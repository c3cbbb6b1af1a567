{errors}
<form class="record" id="record" method="post" enctype="multipart/form-data">
<!-- Enter in a field presses the form's first button: make that "Save". -->
<button type="submit" name="action" value="save" class="default-button" tabindex="-1" aria-hidden="true">Save</button>
{fields}{hidden}
<div class="actions"><button type="submit" class="primary" name="action" value="save">Save</button>
  <a class="button" href="{cancel}">Cancel</a>
  {?delete}<span class="grow"></span><a class="button danger" href="{delete}">Delete…</a>{/delete}</div>
</form>
