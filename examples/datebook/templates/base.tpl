<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Datebook</title>
<link rel="stylesheet" href="/static/style.css"><link rel="icon" href="data:,">
</head>
<body class="{section}">
<header class="top">
  <a class="brand" href="/">Datebook</a>
  <nav><a class="nav-home" href="/">Today</a> <a class="nav-contacts" href="/contacts">Contacts</a>
    <a class="nav-appointments" href="/appointments">Appointments</a> <a class="nav-tasks" href="/tasks">Tasks</a></nav>
  <form class="search" method="get" action="/search" role="search">
    <input type="search" name="q" value="{query}" placeholder="Search everything…" aria-label="Search"></form>
</header>
<main>{flash}<h1>{title}</h1>
{content}
</main>
</body></html>
