using System.CommandLine;
using Iwae.Autodiff;
using Iwae.Core;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae sample --checkpoint FILE [--posterior]`: <see cref="SampleRuns.Run"/>.</summary>
internal static class SampleCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("sample", "Draw latents from a checkpoint's model and decode them: with --posterior, for test images, both plain draws from q(z|x) and importance-resampled ones (--proposals each, alias --k), written to posterior-samples.json in --out; otherwise draws from the prior, to prior-samples.json.")
            .With(CheckpointFile, Posterior, Proposals, Draws, SampleImages, Seed, Data, Threads, Out);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            bool posterior = p.GetValue(Posterior);
            if (!posterior && (p.Given(Proposals) || p.Given(SampleImages)))
                throw new ArgumentException($"{p.Spelling(Proposals)} and --images apply to --posterior only");
            using var execution = p.ReadExecution(io);
            string written = SampleRuns.Run(p.GetValue(CheckpointFile)!, posterior, p.GetValue(Proposals), p.GetValue(Draws), p.GetValue(SampleImages), p.GetValue(Seed), p.DataSpec(), p.OutFolder().Path, execution);
            io.Out.WriteLine($"samples: {written}");
            return 0;
        }, interrupted: "iwae: interrupted; no samples were written"));
        return cmd;
    }
}
