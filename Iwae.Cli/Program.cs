using System.Runtime.InteropServices;
using Iwae.Cli;
using var cancel = new CancellationTokenSource();

Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    cancel.Cancel();
});
return IwaeCommand.Run(args, Console.Out, Console.Error, cancel.Token);
