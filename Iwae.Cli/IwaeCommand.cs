using System.CommandLine.Invocation;
using System.CommandLine;
using Iwae.Cli.Commands.Sweeps;
using Iwae.Cli.Commands;

namespace Iwae.Cli;

/// <summary>
/// The `iwae` command line: one file per subcommand in Commands/, each parsing its options (declared once, in
/// <see cref="CliOptions"/>) into the arguments of one Iwae.Core call and printing what it returns.
/// </summary>
public static class IwaeCommand
{
    /// <summary>Exit code of an unexpected exception: a bug, never a user's input (docs/errors.md).</summary>
    public const int InternalError = 1;

    /// <summary>Set to 1, the environment variable that makes an internal error print its stack trace.</summary>
    public const string DebugVariable = "IWAE_DEBUG";

    /// <summary>Exit code for bad input (arguments, files).</summary>
    public const int BadInput = 2;

    /// <summary>Exit code for a run that went non-finite.</summary>
    public const int Diverged = 3;

    /// <summary>Exit code when training and results succeeded but the figures or report could not be drawn.</summary>
    public const int FiguresFailed = 4;

    /// <summary>Exit code when Ctrl+C (or SIGTERM) stopped a run after writing its checkpoint.</summary>
    public const int Interrupted = 130;

    /// <summary>
    /// Parses and runs; returns the process exit code. <paramref name="cancel"/> (Ctrl+C in Program.cs) makes a
    /// training run finish its current step, write a checkpoint and exit with <see cref="Interrupted"/>.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
        => Run(Build(new CliIo(stdout, stderr, cancel)), args, stdout, stderr);

    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/> and runs it, as <see cref="Run(string[], TextWriter, TextWriter, CancellationToken)"/> does.</summary>
    internal static int Run(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr)
    {
        // Our own handler owns Ctrl+C (it must let the step finish and the checkpoint be written).
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            stderr.WriteLine(CliIo.OneLine(ParseErrors.OneLine(parse)));
            return BadInput;
        }
        try
        {
            return parse.Invoke(config);
        }
        catch (Exception e)
        {
            // What no command expects is a bug: one line, exit 1, and the stack trace only when asked for.
            bool debug = Environment.GetEnvironmentVariable(DebugVariable) is "1";
            stderr.WriteLine($"iwae: internal error ({e.GetType().Name}: {CliIo.OneLine(e.Message)}); this is a bug, please report it with the command line{(debug ? "" : $" ({DebugVariable}=1 prints the stack trace)")}");
            if (debug) stderr.WriteLine(e);
            return InternalError;
        }
    }

    /// <summary>The command tree, its actions writing to <paramref name="io"/>.</summary>
    internal static RootCommand Build(CliIo io)
    {
        var root = new RootCommand("Importance Weighted Autoencoders and VAEs (Burda et al. 2016) on MNIST, in C# with no ML framework.");
        foreach (var command in new[] { CompareCommand.Create(io), TrainCommand.Create(io), EvalCommand.Create(io), PlotCommand.Create(io), SampleCommand.Create(io), SnrCommand.Create(io),
                                       ScoreCommand.Create(io), ExportCommand.Create(io), ImportCommand.Create(io), DataCommand.Create(io), SweepCommand.Create(io) })
            root.Subcommands.Add(command);
        return root;
    }
}
