using System.CommandLine;
using System.Globalization;
using Iwae.Cli.Report;
using Iwae.Core;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;

namespace Iwae.Cli;

/// <summary>
/// The `iwae` command line: parses options and calls one function of Iwae.Core per subcommand. Every
/// expected failure (bad input, bad file, divergence) is one line on stderr and a non-zero exit code.
/// </summary>
public static class IwaeCommand
{
    /// <summary>Exit code for bad input (arguments, files).</summary>
    public const int BadInput = 2;
    /// <summary>Exit code for a run that went non-finite.</summary>
    public const int Diverged = 3;
    /// <summary>Exit code when training and results succeeded but the figures or report could not be drawn.</summary>
    public const int FiguresFailed = 4;

    private static readonly Option<string?> DataOpt = new("--data") { Description = "Folder with the four MNIST IDX files (.gz or plain). Default: the embedded 10k-digit subset in data/mnist-subset." };
    private static readonly Option<int> KOpt = new("--k") { Description = "Importance samples per input during training (k).", DefaultValueFactory = _ => 5 };
    private static readonly Option<string> HiddenOpt = new("--hidden") { Description = "Encoder hidden widths, comma separated; the decoder mirrors them.", DefaultValueFactory = _ => "200,200" };
    private static readonly Option<int> LatentOpt = new("--latent") { Description = "Latent dimension.", DefaultValueFactory = _ => 50 };
    private static readonly Option<int> StagesOpt = new("--stages") { Description = "Stages of the Burda schedule (stage i: 3^(i-1) epochs at lr 0.001*10^(-(i-1)/7); the paper uses 8)." };
    private static readonly Option<int?> EpochsOpt = new("--epochs") { Description = "Overrides the schedule: this many epochs at lr 1e-3." };
    private static readonly Option<int> BatchOpt = new("--batch") { Description = "Minibatch size.", DefaultValueFactory = _ => 20 };
    private static readonly Option<ulong> SeedOpt = new("--seed") { Description = "Random seed (weights, data order, binarisation, noise).", DefaultValueFactory = _ => 1UL };
    private static readonly Option<int> ThreadsOpt = new("--threads") { Description = "Kernel threads. The same seed gives bit-identical results on any thread count.", DefaultValueFactory = _ => Math.Min(2, Environment.ProcessorCount) };
    private static readonly Option<bool> FixedThreadsOpt = new("--fixed-threads") { Description = "Run every training step on --threads. Without it the trainer runs steps on one thread while that is measurably faster (on a shared VM two threads sometimes are not); the results are the same bits either way." };
    private static readonly Option<string?> OutOpt = new("--out") { Description = "Output folder for checkpoints, metrics and results.json. Default: runs/<timestamp>." };
    private static readonly Option<int> EvalKOpt = new("--eval-k") { Description = "Samples per test image for the log-likelihood estimate.", DefaultValueFactory = _ => 5000 };
    private static readonly Option<string> ModelOpt = new("--model") { Description = "iwae or vae.", DefaultValueFactory = _ => "iwae" };
    private static readonly Option<string> CheckpointOpt = new("--checkpoint") { Description = "A .safetensors checkpoint written by `iwae train` or `iwae compare`.", Required = true };
    private static readonly Option<string?> SweepOpt = new("--sweep")
    {
        Description = $"Compare at several encoder shapes, WIDTHxDEPTH separated by commas (the decoder mirrors each); each runs in its own subfolder of --out and --hidden is ignored. Without a value: {SweepReport.DefaultSpec}.",
        Arity = ArgumentArity.ZeroOrOne,
    };
    private static readonly Option<string> RunOpt = new("--run") { Description = "A run folder written by `iwae compare --out` (or a sweep folder).", Required = true };
    private static readonly Option<int?> EvalCheckpointKOpt = new("--k") { Description = "Samples per test image for the log-likelihood estimate.", DefaultValueFactory = _ => 5000 };
    private static readonly Option<int> LayersOpt = new("--layers") { Description = "Stochastic layers: 1 (784-200-200-50) or 2 (Burda et al.: 784-200-200-100 | 100-100-100-50; --hidden and --latent then describe the first layer, latent default 100).", DefaultValueFactory = _ => 1 };
    private static readonly Option<string> EstimatorOpt = new("--estimator") { Description = "Gradient estimator: iwae (default), stl, dreg, miwae, ciwae or piwae. In compare it trains the IWAE; the VAE keeps the ELBO gradient.", DefaultValueFactory = _ => "iwae" };
    private static readonly Option<int?> GroupsOpt = new("--groups") { Description = "M for miwae and piwae: the k samples form M groups of k/M (M must divide k)." };
    private static readonly Option<double?> BetaOpt = new("--beta") { Description = "beta for ciwae: beta * ELBO + (1 - beta) * IWAE bound (default 0.5)." };

    /// <summary>Default stages of `iwae compare`, sized to finish in a few minutes on 2 cores.</summary>
    public const int CompareStages = 5;

    /// <summary>Exit code when Ctrl+C (or SIGTERM) stopped a run after writing its checkpoint.</summary>
    public const int Interrupted = 130;

    private static readonly Option<string?> ResumeOpt = new("--resume") { Description = "Continue the run in this folder from its last checkpoint (weights, optimiser, RNG and position in the schedule)." };
    private static readonly Option<int> CheckpointEveryOpt = new("--checkpoint-every") { Description = "Epochs between checkpoints (one is also written at the end and on Ctrl+C).", DefaultValueFactory = _ => 1 };

    /// <summary>
    /// Parses and runs; returns the process exit code. <paramref name="cancel"/> (Ctrl+C in Program.cs) makes a
    /// training run finish its current step, write a checkpoint and exit with <see cref="Interrupted"/>.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
    {
        var root = new RootCommand("Importance Weighted Autoencoders and VAEs (Burda et al. 2016) on MNIST, in C# with no ML framework.");
        root.Subcommands.Add(CompareCommand(stdout, stderr, cancel));
        root.Subcommands.Add(TrainCommand(stdout, stderr, cancel));
        root.Subcommands.Add(EvalCommand(stdout, stderr));
        root.Subcommands.Add(PlotCommand(stdout, stderr));
        root.Subcommands.Add(SampleCommand(stdout, stderr));
        root.Subcommands.Add(SnrCommand(stdout, stderr));
        // Our own handler owns Ctrl+C (it must let the step finish and the checkpoint be written).
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return root.Parse(args).Invoke(config);
    }

    private static Command CompareCommand(TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        var cmd = new Command("compare", "Train a VAE and an IWAE with the same architecture, k, seed and schedule on the data, evaluate both (test NLL at k=5000, bounds, active units), print them side by side, and write figures and report.html to --out.");
        AddModelOptions(cmd, defaultStages: CompareStages);
        cmd.Options.Add(EvalKOpt);
        cmd.Options.Add(SweepOpt);
        cmd.SetAction(p => Guard(stderr, () =>
        {
            var (config, options, settings) = ReadCommon(p, ModelKind.Iwae, CompareStages);
            int[][]? sweep = p.GetResult(SweepOpt) is null ? null : SweepReport.ParseSpec(p.GetValue(SweepOpt) ?? SweepReport.DefaultSpec);
            if (sweep is null) return CompareOne(config, options, settings, stdout, stderr, cancel);

            string sweepDir = settings.OutDir!;
            Directory.CreateDirectory(sweepDir);
            var folders = new List<string>();
            foreach (var hidden in sweep)
            {
                string folder = SweepReport.FolderName(hidden);
                int code = CompareOne(config with { Hidden = hidden }, options, settings with { OutDir = Path.Combine(sweepDir, folder) }, stdout, stderr, cancel);
                if (code != 0) return code;
                folders.Add(folder);
                SweepReport.WriteIndex(sweepDir, folders);   // a sweep cut short still has an index of what finished
                stdout.WriteLine();
            }
            return WriteFigures(stderr, sweepDir, () => SweepReport.Write(sweepDir, stdout.WriteLine));
        }));
        return cmd;
    }

    /// <summary>One comparison with its progress display, table, figures and report.</summary>
    private static int CompareOne(ModelConfig config, TrainOptions options, RunSettings settings, TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        var view = ProgressView.For(stdout);
        string est = options.Estimator == GradientEstimator.Iwae ? "" : $", IWAE estimator {options.Estimator.ToString().ToLowerInvariant()}";
        stdout.WriteLine($"iwae compare: {config.Architecture}{est}, k={config.K}, {options.TotalEpochs} epochs, batch {options.BatchSize}, seed {options.Seed}, {options.Threads} threads -> {settings.OutDir}");
        var c = view.Run(() => Runs.Compare(config, options, settings with { Progress = view.Report }, view.Log, cancel));
        stdout.WriteLine();
        stdout.Write(FormatTable(c));
        stdout.WriteLine($"results: {Path.Combine(settings.OutDir!, "results.json")}");
        return WriteFigures(stderr, settings.OutDir!, () => RunReport.Write(settings.OutDir!, settings.DataFolder, stdout.WriteLine));
    }

    /// <summary>Draws figures after a finished run: a failure there is one line on stderr, and the results stay.</summary>
    private static int WriteFigures(TextWriter stderr, string dir, Func<IReadOnlyList<string>> draw)
    {
        try
        {
            draw();
            return 0;
        }
        catch (Exception e) when (e is not (ArgumentException or DataFormatException or CheckpointFormatException or IOException))
        {
            stderr.WriteLine($"iwae: figures and report not written ({e.GetType().Name}: {OneLine(e.Message)}); the results are in {dir}, retry with `iwae plot --run {dir}`");
            return FiguresFailed;
        }
    }

    private static Command PlotCommand(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("plot", "Redraw the figures (learning curves, latent space, active units, reconstructions, samples; the manifold for a 2-D latent) and report.html of a run folder from its files and the test data. On a sweep folder, redraws every run and the sweep's table and chart.");
        cmd.Options.Add(RunOpt);
        cmd.Options.Add(DataOpt);
        cmd.SetAction(p => Guard(stderr, () =>
        {
            string dir = p.GetValue(RunOpt)!;
            string? data = p.GetValue(DataOpt);
            if (data is not null && !Directory.Exists(data)) throw new DataFormatException($"{data}: data folder not found");
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: run folder not found");
            if (File.Exists(Path.Combine(dir, SweepReport.IndexFile)))
            {
                foreach (var folder in SweepReport.ReadIndex(dir)) RunReport.Write(Path.Combine(dir, folder), data, stdout.WriteLine);
                SweepReport.Write(dir, stdout.WriteLine);
            }
            else RunReport.Write(dir, data, stdout.WriteLine);
            return 0;
        }));
        return cmd;
    }

    private static Command TrainCommand(TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        var cmd = new Command("train", "Train one model (--model iwae|vae) and evaluate it; writes checkpoints and per-epoch metrics to --out. Ctrl+C finishes the current step and writes a checkpoint; --resume DIR continues from it.");
        cmd.Options.Add(ModelOpt);
        AddModelOptions(cmd, defaultStages: CompareStages);
        cmd.Options.Add(EvalKOpt);
        cmd.Options.Add(ResumeOpt);
        cmd.Options.Add(CheckpointEveryOpt);
        cmd.SetAction(p => Guard(stderr, () =>
        {
            int every = p.GetValue(CheckpointEveryOpt);
            if (every < 1) throw new ArgumentException($"--checkpoint-every must be >= 1, got {every}");
            string? resume = p.GetValue(ResumeOpt);
            ModelConfig config;
            TrainOptions options;
            RunSettings settings;
            string? from = null;
            if (resume is null)
            {
                (config, options, settings) = ReadCommon(p, ParseModel(p.GetValue(ModelOpt)!), CompareStages);
            }
            else
            {
                from = FindCheckpoint(resume, p.GetResult(ModelOpt) is not { Implicit: false } ? null : ParseModel(p.GetValue(ModelOpt)!));
                // The run goes on as it was started; only the thread count, data folder and eval k may be given anew.
                (config, options, settings) = Runs.ReadRunInfo(from);
                var requested = ParseModel(Path.GetFileNameWithoutExtension(from));
                if (config.Model != requested)
                    throw new CheckpointFormatException(from, $"holds a {config.Model.ToString().ToLowerInvariant()} model, not the requested {requested.ToString().ToLowerInvariant()}");
                if (p.GetResult(ThreadsOpt) is { Implicit: false }) options = (options with { Threads = p.GetValue(ThreadsOpt) }).Validate();
                if (p.GetValue(FixedThreadsOpt)) options = options with { AdaptiveThreads = false };
                if (p.GetResult(EvalKOpt) is { Implicit: false }) settings = settings with { EvalK = p.GetValue(EvalKOpt) };
                settings = settings with { DataFolder = p.GetValue(DataOpt) ?? settings.DataFolder, OutDir = resume };
            }
            settings = settings with { CheckpointEvery = every };
            var loaded = Runs.LoadData(settings, config.Observation);
            Directory.CreateDirectory(settings.OutDir!);      // only once the inputs are known to be good
            var view = ProgressView.For(stdout);
            var (_, r) = view.Run(() => Runs.TrainAndEvaluate(config, options, settings with { Progress = view.Report }, loaded, view.Log, cancel, from));
            stdout.WriteLine(FormatResult(r, settings.EvalK));
            stdout.WriteLine($"checkpoint: {r.Checkpoint}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>The checkpoint to resume in <paramref name="dir"/>: &lt;model&gt;.safetensors, the only one there if no model is named.</summary>
    private static string FindCheckpoint(string dir, ModelKind? kind)
    {
        if (!Directory.Exists(dir)) throw new ArgumentException($"--resume: folder not found: {dir}");
        var names = kind is ModelKind k ? [k] : new[] { ModelKind.Iwae, ModelKind.Vae };
        var found = names.Select(n => Path.Combine(dir, n.ToString().ToLowerInvariant() + ".safetensors")).Where(File.Exists).ToArray();
        return found.Length switch
        {
            1 => found[0],
            0 => throw new ArgumentException($"--resume: no {(kind is null ? "iwae.safetensors or vae.safetensors" : names[0].ToString().ToLowerInvariant() + ".safetensors")} in {dir}"),
            _ => throw new ArgumentException($"--resume: {dir} holds both iwae and vae checkpoints; name one with --model"),
        };
    }

    private static Command EvalCommand(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("eval", "Evaluate a checkpoint on the test set: NLL estimate at --k samples, bounds at k=1 and the model's k, active units.");
        cmd.Options.Add(CheckpointOpt);
        cmd.Options.Add(EvalCheckpointKOpt);
        cmd.Options.Add(DataOpt);
        cmd.SetAction(p => Guard(stderr, () =>
        {
            int k = p.GetValue(EvalCheckpointKOpt) ?? 5000;
            if (k < 1) throw new ArgumentException($"--k must be >= 1, got {k}");
            var model = Runs.LoadModel(p.GetValue(CheckpointOpt)!);
            var settings = new RunSettings { DataFolder = p.GetValue(DataOpt), EvalK = k };
            var data = Runs.LoadData(settings, model.Config.Observation);
            if (data.TestX.Cols != model.Config.InputSize)
                throw new ArgumentException($"the checkpoint's model expects {model.Config.InputSize} pixels, the data has {data.TestX.Cols}");
            var view = ProgressView.For(stdout);
            var r = view.Run(() => Runs.Evaluate(model, data.TestX, settings with { Progress = view.Report }, view.Log));
            stdout.WriteLine(FormatResult(r, k));
            return 0;
        }));
        return cmd;
    }

    private static readonly Option<bool> PosteriorOpt = new("--posterior") { Description = "Draw from the posterior by importance resampling (Cremer et al. 2017): k proposals from q per draw, one kept by its normalised weight. Without it: draws from the prior." };
    private static readonly Option<int> SampleKOpt = new("--k") { Description = "Proposals per posterior draw (--posterior).", DefaultValueFactory = _ => 1000 };
    private static readonly Option<int> SampleNOpt = new("--n") { Description = "Draws per test image (--posterior), or from the prior.", DefaultValueFactory = _ => 10 };
    private static readonly Option<int> SampleImagesOpt = new("--images") { Description = "Test images to draw for, the first ones (--posterior).", DefaultValueFactory = _ => 8 };
    private static readonly Option<ulong> SampleSeedOpt = new("--seed") { Description = "Random seed of the draws.", DefaultValueFactory = _ => 1UL };

    private static Command SampleCommand(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("sample", "Draw latents from a checkpoint's model and decode them: with --posterior, for test images, both plain draws from q(z|x) and importance-resampled ones (k proposals each), written to posterior-samples.json in --out; otherwise draws from the prior, to prior-samples.json.");
        foreach (var o in new Option[] { CheckpointOpt, PosteriorOpt, SampleKOpt, SampleNOpt, SampleImagesOpt, SampleSeedOpt, DataOpt, OutOpt }) cmd.Options.Add(o);
        cmd.SetAction(p => Guard(stderr, () =>
        {
            bool posterior = p.GetValue(PosteriorOpt);
            int k = p.GetValue(SampleKOpt), n = p.GetValue(SampleNOpt), images = p.GetValue(SampleImagesOpt);
            if (k < 1) throw new ArgumentException($"--k must be >= 1, got {k}");
            if (n < 1) throw new ArgumentException($"--n must be >= 1, got {n}");
            if (images < 1) throw new ArgumentException($"--images must be >= 1, got {images}");
            if (!posterior && (p.GetResult(SampleKOpt) is { Implicit: false } || p.GetResult(SampleImagesOpt) is { Implicit: false }))
                throw new ArgumentException("--k and --images apply to --posterior only");
            string checkpoint = p.GetValue(CheckpointOpt)!;
            var model = Runs.LoadModel(checkpoint);
            string outDir = p.GetValue(OutOpt) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            string written;
            if (posterior)
            {
                var data = Runs.LoadData(new RunSettings { DataFolder = p.GetValue(DataOpt) }, model.Config.Observation);
                if (data.TestX.Cols != model.Config.InputSize)
                    throw new ArgumentException($"the checkpoint's model expects {model.Config.InputSize} pixels, the data has {data.TestX.Cols}");
                if (images > data.TestX.Rows) throw new ArgumentException($"--images must be at most the {data.TestX.Rows} test images, got {images}");
                Directory.CreateDirectory(outDir);      // only once the inputs are known to be good
                written = SampleRuns.WritePosterior(model, data.TestX, k, n, images, p.GetValue(SampleSeedOpt), outDir, checkpoint);
            }
            else
            {
                Directory.CreateDirectory(outDir);
                written = SampleRuns.WritePrior(model, n, p.GetValue(SampleSeedOpt), outDir, checkpoint);
            }
            stdout.WriteLine($"samples: {written}");
            return 0;
        }));
        return cmd;
    }

    private static readonly Option<string> SnrKsOpt = new("--ks") { Description = "Values of k, comma separated.", DefaultValueFactory = _ => "1,3,10,30,100,300,1000" };
    private static readonly Option<string> SnrEstimatorsOpt = new("--estimators") { Description = "Estimators, comma separated (iwae, stl, dreg, miwae, ciwae, piwae).", DefaultValueFactory = _ => "iwae,dreg,stl" };
    private static readonly Option<int> SnrDrawsOpt = new("--draws") { Description = "Independent gradient draws per point.", DefaultValueFactory = _ => 100 };
    private static readonly Option<int> SnrImagesOpt = new("--images") { Description = "Test images in the minibatch the gradient is taken on (the first ones); with --toy, data points drawn from the toy model.", DefaultValueFactory = _ => 1 };
    private static readonly Option<string?> SnrCheckpointOpt = new("--checkpoint") { Description = "A .safetensors checkpoint written by `iwae train` or `iwae compare` (or give --toy)." };
    private static readonly Option<bool> SnrToyOpt = new("--toy") { Description = "Instead of a checkpoint, Rainforth et al.'s linear Gaussian model (D = 20) at its optimal weights plus N(0, 0.01^2) noise, where q can nearly match the posterior." };

    private static Command SnrCommand(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("snr", "Gradient signal-to-noise ratio of the encoder and the decoder as k grows (Rainforth et al. 2018), per estimator, at a checkpoint's weights or on the linear Gaussian toy: prints one line per point and writes snr.json and snr.png to --out.");
        foreach (var o in new Option[] { SnrCheckpointOpt, SnrToyOpt, SnrKsOpt, SnrEstimatorsOpt, SnrDrawsOpt, SnrImagesOpt, GroupsOpt, SampleSeedOpt, ThreadsOpt, DataOpt, OutOpt }) cmd.Options.Add(o);
        cmd.SetAction(p => Guard(stderr, () =>
        {
            int[] ks = ParseList<int>(p.GetValue(SnrKsOpt)!, "--ks", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 1 ? k : null);
            var estimators = ParseList<GradientEstimator>(p.GetValue(SnrEstimatorsOpt)!, "--estimators", EstimatorNamed);
            int draws = p.GetValue(SnrDrawsOpt), images = p.GetValue(SnrImagesOpt), groups = p.GetValue(GroupsOpt) ?? 1, threads = p.GetValue(ThreadsOpt);
            if (draws < 2) throw new ArgumentException($"--draws must be >= 2, got {draws}");
            if (images < 1) throw new ArgumentException($"--images must be >= 1, got {images}");
            if (groups < 1) throw new ArgumentException($"--groups must be >= 1, got {groups}");
            if (threads < 1) throw new ArgumentException($"--threads must be >= 1, got {threads}");
            string? checkpoint = p.GetValue(SnrCheckpointOpt);
            bool toy = p.GetValue(SnrToyOpt);
            if (toy == (checkpoint is not null)) throw new ArgumentException("give either --checkpoint FILE or --toy");
            if (toy && p.GetValue(DataOpt) is not null) throw new ArgumentException("--data does not apply to --toy, which draws its own data");
            Iwae<float> model;
            Autodiff.Tensor<float> x;
            if (toy) (model, x) = LinearGaussianToy.Create<float>(count: images, seed: p.GetValue(SampleSeedOpt));
            else
            {
                model = Runs.LoadModel(checkpoint!);
                var data = Runs.LoadData(new RunSettings { DataFolder = p.GetValue(DataOpt) }, model.Config.Observation);
                if (data.TestX.Cols != model.Config.InputSize)
                    throw new ArgumentException($"the checkpoint's model expects {model.Config.InputSize} pixels, the data has {data.TestX.Cols}");
                if (images > data.TestX.Rows) throw new ArgumentException($"--images must be at most the {data.TestX.Rows} test images, got {images}");
                x = data.TestX.RowSlice(0, images);
            }
            foreach (var e in estimators) Estimator<float>.Create(e, groups).Validate(model.Config with { K = groups });
            if (!estimators.Any(e => e is not (GradientEstimator.Miwae or GradientEstimator.Piwae)) && !ks.Any(k => k % groups == 0))
                throw new ArgumentException($"--ks: no k is a multiple of --groups {groups}, so miwae and piwae have nothing to measure");
            string outDir = p.GetValue(OutOpt) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            IReadOnlyList<SnrPoint> points;
            using (var compute = new Autodiff.ComputeContext(threads))
            using (compute.Enter())
            {
                points = Diagnostics.SnrSweep(model, x, ks, estimators, draws, groups, p.GetValue(SampleSeedOpt),
                    r => stdout.WriteLine(FormattableString.Invariant($"snr estimator={r.Estimator} k={r.K} encoder={r.Encoder:G4} decoder={r.Decoder:G4} encoder_norm={r.EncoderNorm:G4} decoder_norm={r.DecoderNorm:G4} ess={r.EffectiveSampleSize:G4}")));
            }
            Directory.CreateDirectory(outDir);
            var json = System.Text.Json.JsonSerializer.Serialize(new
            {
                checkpoint, toy, architecture = model.Config.Architecture, images, draws, groups, seed = p.GetValue(SampleSeedOpt), points,
            }, new System.Text.Json.JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase });
            Runs.WriteAtomically(Path.Combine(outDir, "snr.json"), json);
            string png = Path.Combine(outDir, "snr.png");
            try { Plots.SnrPlot.Save(png, points); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                stderr.WriteLine($"iwae: the SNR figure could not be drawn: {OneLine(e.Message)}; snr.json is written");
                return FiguresFailed;
            }
            stdout.WriteLine($"snr: {Path.Combine(outDir, "snr.json")}, {png}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Comma-separated values, each parsed by <paramref name="parse"/> (null: invalid, named in the error).</summary>
    private static T[] ParseList<T>(string text, string option, Func<string, T?> parse) where T : struct
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        var result = new T[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = parse(items[i]) ?? throw new ArgumentException($"{option}: '{items[i]}' is not valid in '{text}'");
        return result;
    }

    private static void AddModelOptions(Command cmd, int defaultStages)
    {
        foreach (var o in new Option[] { DataOpt, KOpt, HiddenOpt, LatentOpt, StagesOpt, EpochsOpt, BatchOpt, SeedOpt, ThreadsOpt, FixedThreadsOpt, OutOpt, LayersOpt, EstimatorOpt, GroupsOpt, BetaOpt }) cmd.Options.Add(o);
        StagesOpt.DefaultValueFactory = _ => defaultStages;
    }

    private static (ModelConfig, TrainOptions, RunSettings) ReadCommon(ParseResult p, ModelKind kind, int defaultStages)
    {
        int k = p.GetValue(KOpt);
        if (k < 1) throw new ArgumentException($"--k must be >= 1, got {k}");
        int layers = p.GetValue(LayersOpt);
        if (layers is not (1 or 2)) throw new ArgumentException($"--layers must be 1 or 2, got {layers}");
        // Burda et al.'s first stochastic layer has 100 units when a second (of 50) sits above it.
        int latent = p.GetResult(LatentOpt) is { Implicit: false } || layers == 1 ? p.GetValue(LatentOpt) : 100;
        if (latent < 1) throw new ArgumentException($"--latent must be >= 1, got {latent}");
        int[] hidden = ParseHidden(p.GetValue(HiddenOpt)!);
        int stages = p.GetValue(StagesOpt);
        if (stages < 1) throw new ArgumentException($"--stages must be >= 1, got {stages}");
        int? epochs = p.GetValue(EpochsOpt);
        if (epochs is < 0) throw new ArgumentException($"--epochs must be >= 0, got {epochs}");
        int batch = p.GetValue(BatchOpt);
        if (batch < 1) throw new ArgumentException($"--batch must be >= 1, got {batch}");
        int threads = p.GetValue(ThreadsOpt);
        if (threads < 1) throw new ArgumentException($"--threads must be >= 1, got {threads}");
        int evalK = p.GetValue(EvalKOpt);
        if (evalK < 1) throw new ArgumentException($"--eval-k must be >= 1, got {evalK}");
        string? data = p.GetValue(DataOpt);
        if (data is not null && !Directory.Exists(data)) throw new DataFormatException($"{data}: data folder not found");
        string outDir = p.GetValue(OutOpt) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

        var config = new ModelConfig { Model = kind, K = k, Hidden = hidden, Latent = latent, Layers = layers }.Validate();
        var estimator = ParseEstimator(p.GetValue(EstimatorOpt)!);
        int? groups = p.GetValue(GroupsOpt);
        double? beta = p.GetValue(BetaOpt);
        if (estimator is GradientEstimator.Miwae or GradientEstimator.Piwae)
        {
            if (groups is null) throw new ArgumentException($"--estimator {p.GetValue(EstimatorOpt)!.ToLowerInvariant()} needs --groups M (the k samples form M groups of k/M)");
            if (groups < 1 || k % groups != 0) throw new ArgumentException($"--groups must be >= 1 and divide --k ({k}), got {groups}");
        }
        else if (groups is not null) throw new ArgumentException("--groups applies to --estimator miwae or piwae only");
        if (beta is not null && estimator != GradientEstimator.Ciwae) throw new ArgumentException("--beta applies to --estimator ciwae only");
        if (beta is not (null or (>= 0 and <= 1))) throw new ArgumentException($"--beta must be in [0, 1], got {beta}");
        var options = new TrainOptions { Stages = stages, Epochs = epochs, BatchSize = batch, Seed = p.GetValue(SeedOpt), Threads = threads,
                                         AdaptiveThreads = !p.GetValue(FixedThreadsOpt), Estimator = estimator, Groups = groups ?? 1, Beta = beta ?? 0.5 }.Validate();
        try { Estimator<float>.Create(options).Validate(config); }
        catch (ArgumentException e) { throw new ArgumentException($"--estimator: {e.Message}"); }
        var settings = new RunSettings { DataFolder = data, EvalK = evalK, OutDir = outDir };
        return (config, options, settings);
    }

    private static int[] ParseHidden(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out widths[i]) || widths[i] < 1)
                throw new ArgumentException($"--hidden must be positive widths separated by commas (e.g. 200,200), got '{text}'");
        return widths;
    }

    private static GradientEstimator ParseEstimator(string name)
        => EstimatorNamed(name) ?? throw new ArgumentException($"--estimator must be iwae, stl, dreg, miwae, ciwae or piwae, got '{name}'");

    /// <summary>The estimator a command-line name stands for (any case), or null for an unknown name.</summary>
    private static GradientEstimator? EstimatorNamed(string name) => name.ToLowerInvariant() switch
    {
        "iwae" => GradientEstimator.Iwae,
        "stl" => GradientEstimator.Stl,
        "dreg" => GradientEstimator.Dreg,
        "miwae" => GradientEstimator.Miwae,
        "ciwae" => GradientEstimator.Ciwae,
        "piwae" => GradientEstimator.Piwae,
        _ => null,
    };

    private static ModelKind ParseModel(string name) => name.ToLowerInvariant() switch
    {
        "iwae" => ModelKind.Iwae,
        "vae" => ModelKind.Vae,
        _ => throw new ArgumentException($"--model must be iwae or vae, got '{name}'"),
    };

    /// <summary>Runs <paramref name="body"/>, turning expected failures into one line on stderr and an exit code.</summary>
    private static int Guard(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or DataFormatException or CheckpointFormatException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"iwae: {OneLine(e.Message)}");
            return BadInput;
        }
        catch (NonFiniteException e)
        {
            stderr.WriteLine($"iwae: training stopped: {OneLine(e.Message)}; the last checkpoint is unchanged");
            return Diverged;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("iwae: interrupted; the checkpoint is saved, continue with `iwae train --resume <out folder>`");
            return Interrupted;
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    /// <summary>The side-by-side table of `iwae compare`.</summary>
    public static string FormatTable(Runs.Comparison c)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        string evalK = c.Settings.EvalK.ToString(CultureInfo.InvariantCulture);
        w.WriteLine($"{"",-28}{"VAE",12}{"IWAE",12}");
        Row($"test NLL (k={evalK})", c.Vae.TestNllK5000, c.Iwae.TestNllK5000, "F2");
        Row("test bound (k=1)", c.Vae.TestBoundK1, c.Iwae.TestBoundK1, "F2");
        Row($"test bound (k={c.Config.K})", c.Vae.TestBoundK, c.Iwae.TestBoundK, "F2");
        Row("active units", c.Vae.ActiveUnits, c.Iwae.ActiveUnits, "F0");
        Row("train time (s)", c.Vae.TrainSeconds, c.Iwae.TrainSeconds, "F1");
        Row("eval time (s)", c.Vae.EvalSeconds, c.Iwae.EvalSeconds, "F1");
        Row("epochs", c.Vae.Epochs, c.Iwae.Epochs, "F0");
        return w.ToString();

        void Row(string label, double a, double b, string f) =>
            w.WriteLine($"{label,-28}{a.ToString(f, CultureInfo.InvariantCulture),12}{b.ToString(f, CultureInfo.InvariantCulture),12}");
    }

    private static string FormatResult(ModelResult r, int evalK) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Model} k={r.K}: test NLL (k={evalK}) {r.TestNllK5000:F2}, bound k=1 {r.TestBoundK1:F2}, bound k={r.K} {r.TestBoundK:F2}, active units {(r.ActiveUnitsPerLayer.Length > 1 ? string.Join("+", r.ActiveUnitsPerLayer) : r.ActiveUnits)}, train {r.TrainSeconds:F1}s, eval {r.EvalSeconds:F1}s");
}
