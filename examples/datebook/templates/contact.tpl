<div class="toolbar"><a class="button primary" href="/contacts/{id}/edit">Edit</a>
  <a class="button" href="/appointments/new?contact={id}">New appointment</a>
  <span class="grow"></span><a class="button danger" href="/contacts/{id}/delete">Delete…</a></div>
<section class="panel"><dl class="details"><dt>E-mail</dt><dd>{email}</dd><dt>Phone</dt><dd>{phone}</dd>
  <dt>Birthday</dt><dd>{birthday:day}</dd><dt>Notes</dt><dd>{notes}</dd></dl></section>
<div class="columns">
  <section class="panel"><h2>Appointments</h2>{agenda}</section>
  <section class="panel"><h2>Attachments</h2>
    {?files}<ul class="files">
    {@files}<li><span class="grow"><a href="/attachments/{id}" download>{filename}</a>
        <span class="muted">{size:size}{?description} · {description}{/description}</span></span>
      <a class="button small" href="/attachments/{id}/delete">Delete…</a></li>{/files}
    </ul>{:else}<p class="empty">No files attached.</p>{/files}
    <p><a class="button small" href="/contacts/{id}/attach">Attach a file…</a></p>
  </section>
</div>
