using System.Diagnostics;
using Iwae.Cli;

namespace Iwae.Tests.Cli;

/// <summary>Runs the `iwae` command in this process, as its Program would, and keeps what it printed.</summary>
internal static class CliRun
{
    /// <summary>The exit code and what went to stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => Run(args, CancellationToken.None);

    /// <summary>The same, stopped (as by Ctrl+C) when <paramref name="cancel"/> fires.</summary>
    public static (int Code, string Out, string Err) Run(string[] args, CancellationToken cancel)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = IwaeCommand.Run(args, o, e, cancel);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>`dotnet iwae.dll ARGS` as a child process, its output redirected (the tool built beside the tests).</summary>
    public static ProcessStartInfo ChildProcess(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "iwae.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }
}
