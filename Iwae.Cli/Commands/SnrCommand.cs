using System.CommandLine;
using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae snr --checkpoint FILE | --toy`: <see cref="SnrRuns.Measure"/>, one line per point, then snr.json and snr.png.</summary>
internal static class SnrCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("snr", "Gradient signal-to-noise ratio of the encoder and the decoder as k grows (Rainforth et al. 2018), per estimator, at a checkpoint's weights or on the linear Gaussian toy: prints one line per point and writes snr.json and snr.png to --out.")
            .With(CheckpointOrToy, Toy, Ks, Estimators, SnrDraws, SnrImages, Groups, Seed, Threads, Data, Out);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var request = new SnrRequest
            {
                Checkpoint = p.GetValue(CheckpointOrToy),
                Toy = p.GetValue(Toy),
                Ks = ParseList<int>(p.GetValue(Ks)!, "--ks", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 1 ? k : null),
                Estimators = ParseList(p.GetValue(Estimators)!, "--estimators", EstimatorNamed),
                Draws = p.GetValue(SnrDraws),
                Images = p.GetValue(SnrImages),
                Groups = p.GetValue(Groups) ?? 1,
                Seed = p.GetValue(Seed),
                Data = p.DataSpec(),
            };
            using var execution = p.ReadExecution(io);
            var folder = p.OutFolder();
            string png = folder.File(RunFolder.SnrFigureFile);
            OutputFiles.Check(inputs: [("--checkpoint", request.Checkpoint), ("--data", request.Data)],
                files: [("--out", folder.File(RunFolder.SnrFile)), ("--out", png)], folders: [("--out", folder.Path)]);
            var report = SnrRuns.Measure(request, r => io.Out.WriteLine(FormattableString.Invariant(
                $"snr estimator={r.Estimator} k={r.K} encoder={r.Encoder:G4} decoder={r.Decoder:G4} encoder_norm={r.EncoderNorm:G4} decoder_norm={r.DecoderNorm:G4} ess={r.EffectiveSampleSize:G4}")), execution);
            string json = folder.Create().WriteSnr(report);
            io.Out.WriteLine($"snr: {json}");
            return io.WriteFigures(folder.Path, () =>
            {
                Plots.SnrPlot.Save(png, report.Points);
                io.Out.WriteLine($"snr figure: {png}");
                return [png];
            });
        }, interrupted: "iwae: interrupted; snr.json was not written"));
        return cmd;
    }
}
