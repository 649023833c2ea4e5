using System.CommandLine;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae import --from FILE --out FILE [--hidden ... --latent ... --layers ... --k ... --model ...]`: <see cref="InteropRuns.ImportTorch"/>.</summary>
internal static class ImportCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("import", "Read a PyTorch state_dict (as `iwae export` writes it) into a checkpoint of weights and config that eval, sample, score and snr read. The model config comes from the file's metadata; for a file without one, --hidden, --latent, --layers, --k and --model give it. See docs/interop.md.")
            .With(From, OutFile).With(ModelShape);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            // The model options describe a file without a config; given for one with a config, they must match it.
            var config = ModelShape.Any(p.Given) ? p.ReadModel(ParseModel(p.GetValue(Model)!)) : null;
            string outPath = p.GetValue(OutFile)!;
            var imported = InteropRuns.ImportTorch(p.GetValue(From)!, outPath, config);
            io.Out.WriteLine($"imported {imported.Architecture} ({RunFolder.ModelName(imported.Model)}, k={imported.K}) to {outPath}");
            return 0;
        }));
        return cmd;
    }
}
