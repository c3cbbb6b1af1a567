<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Home inventory</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="data:,">
</head>
<body>
<nav>
  <a href="/">All items</a> <a href="/items/new">Add an item</a>
  <a href="/categories">Categories</a> <a href="/items.csv">Export as CSV</a>
</nav>
<main>
{flash}
<h1>{title}</h1>
{content}
</main>
</body>
</html>
