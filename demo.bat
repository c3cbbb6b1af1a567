@echo off
rem Run one of the examples: demo intro  (runs examples\intro.py)
rem With no name, list the examples. Needs only Python 3.9+; nothing to install.
setlocal
set "HERE=%~dp0"
if "%~1"=="" (
    echo usage: demo NAME [ARGS...]   where NAME is one of:
    for %%f in ("%HERE%examples\*.py") do echo   %%~nf
    exit /b 0
)
if not exist "%HERE%examples\%~1.py" (
    echo no example called '%~1' ^(run demo to list them^) 1>&2
    exit /b 2
)
set "NAME=%~1"
shift
set "PYTHONPATH=%HERE%;%PYTHONPATH%"
where py >nul 2>nul && (py -3 "%HERE%examples\%NAME%.py" %1 %2 %3 %4 %5 %6 %7 %8 %9 & exit /b) 
python "%HERE%examples\%NAME%.py" %1 %2 %3 %4 %5 %6 %7 %8 %9
