@echo off
rem Run one of the examples: demo intro  (runs examples\intro.py)
rem A package example (a folder with __main__.py, such as examples\datebook\)
rem runs as "python -m NAME" with examples\ on PYTHONPATH.
rem With no name, list the examples. Needs only Python 3.9+; nothing to install.
setlocal
set "HERE=%~dp0"
if "%~1"=="" (
    echo usage: demo NAME [ARGS...]   where NAME is one of:
    for %%f in ("%HERE%examples\*.py") do echo   %%~nf
    for /d %%d in ("%HERE%examples\*") do if exist "%%d\__main__.py" echo   %%~nxd
    exit /b 0
)
set "NAME=%~1"
shift
set "PYTHONPATH=%HERE%;%HERE%examples;%PYTHONPATH%"
set "PY=python"
where py >nul 2>nul && set "PY=py -3"
if exist "%HERE%examples\%NAME%\__main__.py" (
    %PY% -m %NAME% %1 %2 %3 %4 %5 %6 %7 %8 %9
    exit /b
)
if exist "%HERE%examples\%NAME%.py" (
    %PY% "%HERE%examples\%NAME%.py" %1 %2 %3 %4 %5 %6 %7 %8 %9
    exit /b
)
echo no example called '%NAME%' ^(run demo to list them^) 1>&2
exit /b 2
