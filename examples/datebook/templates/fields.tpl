<loop>
<div class="fields">
<?begin?>
<div class="field field-{name}">{field}{message}</div>
<?end?>
</div>
</loop>
