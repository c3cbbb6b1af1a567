<span class="label">With</span>
<div class="chosen">
  {hidden}
  <span class="grow">{@person}<strong>{name}</strong>{^person}<span class="muted">nobody in particular</span>{/person}</span>
  <button type="submit" class="small" name="action" value="choose-contact"
          formnovalidate>Choose contact…</button>
</div>
