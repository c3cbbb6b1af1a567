<div class="field"><span class="label">With</span><div class="chosen">{hidden}
  <span class="grow">{?name}<strong>{name}</strong>{:else}<span class="muted">nobody in particular</span>{/name}</span>
  <button type="submit" class="small" name="action" value="choose-contact" formnovalidate>Choose contact…</button>
</div>{error}</div>
