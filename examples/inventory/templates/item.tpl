<dl>
<dt>Category</dt><dd>{category}</dd>
<dt>Quantity</dt><dd>{quantity}</dd>
{?bought}<dt>Bought on</dt><dd>{bought:date}</dd>{/bought}
{?price}<dt>Price</dt><dd>{price:cents}</dd>{/price}
</dl>
{?notes}<p class="notes">{notes}</p>{/notes}
{?photo}<p><img src="/items/{id}/photo" alt="Photo of {name}"></p>{/photo}
<p><a href="/items/{id}/edit">Edit</a> · <a href="/items/{id}/delete">Delete…</a></p>
