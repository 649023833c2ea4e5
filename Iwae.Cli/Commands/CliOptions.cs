using System.CommandLine;
using System.Globalization;
using Iwae.Autodiff;
using Iwae.Cli.Commands.Sweeps;
using Iwae.Cli.Report;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Datasets;
using Iwae.Experiments;

namespace Iwae.Cli.Commands;

/// <summary>
/// Every option of the `iwae` command, declared once; each command adds the ones it takes. Where one name meant
/// different things in different commands, the meanings have their own names and the old spelling is an alias
/// (`eval --k` is `--eval-k`, `sample --k` is `--proposals`).
/// </summary>
internal static class CliOptions
{
    /// <summary>Default stages of `iwae compare` and `iwae train`, sized to finish in a few minutes on 2 cores.</summary>
    public const int DefaultStages = 5;

    // Data and output.
    public static readonly Option<string?> Data = new("--data") { Description = "The data: a .npy, .npz, .csv, .amat or .mat file, a folder of MNIST IDX files (.gz or plain), or a fetched data set's name (iwae data list). Default: the embedded 10k-digit MNIST subset; for a checkpoint, the data it was trained on." };
    public static readonly Option<double> TestFraction = new("--test-fraction") { Description = "Share of the examples held out (by a seeded shuffle) as the test set, for data without a test split of their own.", DefaultValueFactory = _ => DataSource.DefaultTestFraction };
    public static readonly Option<string> ObservationModel = new("--observation") { Description = "The observation model p(x|z): bernoulli (values in [0, 1]; grey levels are binarised) or gaussian (any real values; its standard deviation as --decoder-variance says).", DefaultValueFactory = _ => "bernoulli" };
    public static readonly Option<string> DecoderVarianceOption = new("--decoder-variance") { Description = "The gaussian decoder's standard deviation: fixed (--decoder-sigma), or learned, shared (one for every dimension) or per-dimension, as sigma-VAE advises; a learned one starts at 1 and stays above --sigma-floor.", DefaultValueFactory = _ => "fixed" };
    public static readonly Option<double?> DecoderSigma = new("--decoder-sigma") { Description = "The fixed standard deviation of the gaussian decoder (default 0.1), with --decoder-variance fixed." };
    public static readonly Option<double?> SigmaFloor = new("--sigma-floor") { Description = $"The smallest standard deviation a learned decoder variance reaches, a soft floor (default {ModelConfig.DefaultSigmaFloor.ToString(CultureInfo.InvariantCulture)}; in standardised units with --standardize)." };
    public static readonly Option<bool> Standardize = new("--standardize") { Description = "Standardise each dimension with the training split's mean and standard deviation (kept in the checkpoint); log p(x) is still reported in the data's own units. Gaussian observations only." };
    public static readonly Option<string?> Out = new("--out") { Description = "Output folder. Default: runs/<timestamp>." };
    public static readonly Option<int> Threads = new("--threads") { Description = "Kernel threads: min(2, cores) by default; in `sweep run`, SLURM_CPUS_PER_TASK when that is set. The same seed gives bit-identical results on any thread count.", DefaultValueFactory = _ => Execution.DefaultThreads };
    public static readonly Option<ulong> Seed = new("--seed") { Description = "Random seed: of the weights, data order, binarisation and noise when training; of the draws in sample and snr.", DefaultValueFactory = _ => 1UL };

    // The model and its training.
    public static readonly Option<string> Model = new("--model") { Description = "iwae or vae.", DefaultValueFactory = _ => "iwae" };
    public static readonly Option<int> K = new("--k") { Description = "Importance samples per input during training (k).", DefaultValueFactory = _ => 5 };
    public static readonly Option<string> Hidden = new("--hidden") { Description = "Encoder hidden widths, comma separated; the decoder mirrors them.", DefaultValueFactory = _ => "200,200" };
    public static readonly Option<int> Latent = new("--latent") { Description = "Latent dimension (default 50; 100 for the first of two stochastic layers)." };
    public static readonly Option<int> Layers = new("--layers") { Description = "Stochastic layers: 1 (784-200-200-50) or 2 (Burda et al.: 784-200-200-100 | 100-100-100-50; --hidden and --latent then describe the first layer, latent default 100).", DefaultValueFactory = _ => 1 };
    public static readonly Option<int> Stages = new("--stages") { Description = "Stages of the Burda schedule (stage i: 3^(i-1) epochs at --lr * 10^(-(i-1)/7); the paper uses 8).", DefaultValueFactory = _ => DefaultStages };
    public static readonly Option<int?> Epochs = new("--epochs") { Description = "Overrides the schedule: this many epochs at a constant --lr." };
    public static readonly Option<double?> LearningRate = new("--lr") { Description = "Adam's base learning rate: stage 1's in the Burda schedule, every epoch's with --epochs (default 0.001)." };
    public static readonly Option<double?> ValidationFraction = new("--validation-fraction") { Description = $"Hold out this share of the training examples (never the test split; the same examples on every run) from 0 (none, the default) to {TrainOptions.MaxValidationFraction}; the validation bound is measured after every epoch, the best epoch's weights are kept in <model>-best.safetensors, and the final evaluation uses them." };
    public static readonly Option<int?> ValidationK = new("--validation-k") { Description = "k of the validation bound L_k (default: the training --k); the same noise every epoch, the same bits on any thread count." };
    public static readonly Option<int?> Patience = new("--patience") { Description = "Stop training once the validation bound has not improved for this many epochs (needs --validation-fraction)." };
    public static readonly Option<int> Batch = new("--batch") { Description = "Minibatch size.", DefaultValueFactory = _ => 20 };
    public static readonly Option<bool> FixedThreads = new("--fixed-threads") { Description = "Run every training step on --threads. Without it the trainer runs steps on one thread while that is measurably faster (on a shared VM two threads sometimes are not); the results are the same bits either way. It holds for this session only: a resumed run takes it anew." };
    /// <summary>The estimators' command-line names, "iwae, stl, dreg, miwae, ciwae, piwae".</summary>
    private static readonly string EstimatorNames = string.Join(", ", Enum.GetNames<GradientEstimator>().Select(n => n.ToLowerInvariant()));

    public static readonly Option<string> Estimator = new("--estimator") { Description = $"Gradient estimator, one of {EstimatorNames} (default iwae). In compare it trains the IWAE; the VAE keeps the ELBO gradient.", DefaultValueFactory = _ => "iwae" };
    public static readonly Option<int?> Groups = new("--groups") { Description = "M for miwae and piwae: the k samples form M groups of k/M (M must divide k)." };
    public static readonly Option<double?> Beta = new("--beta") { Description = "beta for ciwae: beta * ELBO + (1 - beta) * IWAE bound (default 0.5)." };
    public static readonly Option<string?> Resume = new("--resume") { Description = "Continue the run in this folder from its last checkpoint (weights, optimiser, RNG and position in the schedule)." };
    public static readonly Option<int> CheckpointEvery = new("--checkpoint-every") { Description = "Epochs between checkpoints (one is also written at the end and on Ctrl+C).", DefaultValueFactory = _ => 1 };
    public static readonly Option<string?> Sweep = new("--sweep")
    {
        Description = $"Compare at several encoder shapes, WIDTHxDEPTH separated by commas (the decoder mirrors each); each runs in its own subfolder of --out and --hidden is ignored. Without a value: {SweepReport.DefaultSpec}.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    // Evaluation.
    private const string EvalKDescription = "Samples per test image for the log-likelihood estimate (k of -L_k).";
    public static readonly Option<int> EvalK = new("--eval-k") { Description = EvalKDescription, DefaultValueFactory = _ => 5000 };
    /// <summary>`iwae eval`'s --eval-k, which also answers to the --k it was first called.</summary>
    public static readonly Option<int> EvalKOrK = new("--eval-k", "--k") { Description = EvalKDescription, DefaultValueFactory = _ => 5000 };

    // Files of earlier runs.
    public static readonly Option<string> CheckpointFile = new("--checkpoint") { Description = "A .safetensors checkpoint written by `iwae train`, `iwae compare` or `iwae import`.", Required = true };
    public static readonly Option<string?> CheckpointOrToy = new("--checkpoint") { Description = "A .safetensors checkpoint written by `iwae train` or `iwae compare` (or give --toy)." };
    public static readonly Option<string> Run = new("--run") { Description = "A run folder written by `iwae compare --out` (or a sweep folder).", Required = true };

    // Interchange and scores: single files.
    public static readonly Option<string> OutFile = new("--out") { Description = "The file to write (atomically: a partial file never carries this name; its folder is created if missing; never one of the inputs).", Required = true };
    public static readonly Option<string> ExportFormat = new("--format") { Description = "Export format: torch, a PyTorch state_dict (nn.Linear names, [out, in] weights, 1-D biases, F32) with the model config in its metadata; onnx, the encoder and decoder as ONNX graphs (opset 13, F32, batch dimension N), written to --out with .encoder.onnx and .decoder.onnx (two stochastic layers: also .encoder.h2.onnx and .decoder.h1.onnx) in place of a trailing .onnx.", DefaultValueFactory = _ => "torch" };
    public static readonly Option<string?> TestDataOut = new("--test-data-out") { Description = "Also write the test split of --data as eval reads it (binarised once, with the fixed seed) to this .safetensors file: tensor x, F32 [N, pixels]." };
    public static readonly Option<string> From = new("--from") { Description = "A PyTorch state_dict in a .safetensors file, as `iwae export` writes it; without a model config in its metadata, --hidden, --latent, --layers, --k and --model describe the model.", Required = true };

    // Sampling.
    public static readonly Option<bool> Posterior = new("--posterior") { Description = "Draw from the posterior by importance resampling (Cremer et al. 2017): k proposals from q per draw, one kept by its normalised weight. Without it: draws from the prior." };
    public static readonly Option<int> Proposals = new("--proposals", "--k") { Description = "Proposals per posterior draw (--posterior).", DefaultValueFactory = _ => 1000 };
    public static readonly Option<int> Draws = new("--n") { Description = "Draws per test image (--posterior), or from the prior.", DefaultValueFactory = _ => 10 };
    public static readonly Option<int> SampleImages = new("--images") { Description = "Test images to draw for, the first ones (--posterior).", DefaultValueFactory = _ => 8 };

    // Gradient SNR.
    public static readonly Option<string> Ks = new("--ks") { Description = "Values of k, comma separated.", DefaultValueFactory = _ => "1,3,10,30,100,300,1000" };
    public static readonly Option<string> Estimators = new("--estimators") { Description = $"Estimators, comma separated ({EstimatorNames}).", DefaultValueFactory = _ => "iwae,dreg,stl" };
    public static readonly Option<int> SnrDraws = new("--draws") { Description = "Independent gradient draws per point.", DefaultValueFactory = _ => 100 };
    public static readonly Option<int> SnrImages = new("--images") { Description = "Test images in the minibatch the gradient is taken on (the first ones); with --toy, data points drawn from the toy model.", DefaultValueFactory = _ => 1 };
    public static readonly Option<bool> Toy = new("--toy") { Description = "Instead of a checkpoint, Rainforth et al.'s linear Gaussian model (D = 20) at its optimal weights plus N(0, 0.01^2) noise, where q can nearly match the posterior." };

    public static readonly Option<string> Split = new("--split") { Description = "Which examples to score: test (the test split, as eval reads it), train, or all (training then test).", DefaultValueFactory = _ => "test" };

    // Named data sets.
    public static readonly Option<string?> DataDir = new("--dir") { Description = $"Data directory; a set lives in DIR/<name>. Default: ${DataSets.DirectoryVariable}, else $XDG_DATA_HOME/iwae or ~/.local/share/iwae (%LOCALAPPDATA%\\iwae on Windows)." };
    public static readonly Option<string?> Mirror = new("--mirror") { Description = $"Download every file from URL/<file name> instead of its upstream location. Default: ${DataSets.MirrorVariable}, else upstream." };
    public static readonly Argument<string> DataSetName = new("name") { Description = "A data set: mnist, fashion-mnist, omniglot or binarized-mnist (`iwae data list` shows them)." };

    /// <summary>The options that describe a model's architecture and k (<see cref="ReadModel"/>).</summary>
    public static readonly Option[] ModelShape = [Model, K, Hidden, Latent, Layers];

    /// <summary>The options of a training run, shared by `compare` and `train`.</summary>
    public static readonly Option[] Training = [Data, TestFraction, ObservationModel, K, Hidden, Latent, Stages, Epochs, Batch, Seed, Threads, FixedThreads, Out, Layers, Estimator, Groups, Beta,
                                                     LearningRate, ValidationFraction, ValidationK, Patience,
                                                     DecoderVarianceOption, DecoderSigma, SigmaFloor, Standardize];

    /// <summary>Adds <paramref name="options"/> to <paramref name="command"/>; returns it.</summary>
    public static Command With(this Command command, params Option[] options)
    {
        foreach (var o in options) command.Options.Add(o);
        return command;
    }

    /// <summary>
    /// The settings the libraries check, by the field that their <see cref="SettingException"/> names, each with the options
    /// that set it: the one place where configs' names meet the command line's.
    /// </summary>
    private static readonly Dictionary<string, Option[]> SettingOptions = new()
    {
        ["k"] = [K], ["hidden"] = [Hidden], ["latent"] = [Latent], ["layers"] = [Layers],
        ["stages"] = [Stages], ["epochs"] = [Epochs], ["batch_size"] = [Batch], ["learning_rate"] = [LearningRate],
        ["validation_fraction"] = [ValidationFraction], ["validation_k"] = [ValidationK], ["patience"] = [Patience], ["estimator"] = [Estimator], ["groups"] = [Groups],
        ["beta"] = [Beta], ["test_fraction"] = [TestFraction], ["eval_k"] = [EvalK, EvalKOrK], ["checkpoint_every"] = [CheckpointEvery],
        ["threads"] = [Threads], ["parallel"] = [SweepRunCommand.Parallel], ["cpus_per_task"] = [SweepCommand.Cpus], ["proposals"] = [Proposals], ["draws"] = [Draws, SnrDraws], ["images"] = [SampleImages, SnrImages], ["ks"] = [Ks],
        ["decoder_variance"] = [DecoderVarianceOption], ["decoder_sigma"] = [DecoderSigma], ["sigma_floor"] = [SigmaFloor], ["standardize"] = [Standardize],
    };

    /// <summary>
    /// A refused setting as this command line names it: the option of this command that set the field, as the user typed
    /// it, then the problem ("--batch must be from 1 to 1000000, got 0"); the field's own name when no option of the
    /// command sets it (the setting came from a file).
    /// </summary>
    public static string Describe(this ParseResult p, SettingException e)
    {
        var options = p.CommandResult.Command.Options;
        return SettingOptions.TryGetValue(e.Field, out var set) && set.FirstOrDefault(options.Contains) is { } option
            ? $"{p.Spelling(option)} {e.Problem}"
            : e.Message;
    }

    /// <summary>The option's name as the user typed it (an alias, say), for messages.</summary>
    public static string Spelling(this ParseResult p, Option option) => p.GetResult(option)?.IdentifierToken?.Value ?? option.Name;

    /// <summary>Whether the user gave <paramref name="option"/> (not its default).</summary>
    public static bool Given(this ParseResult p, Option option) => p.GetResult(option) is { Implicit: false };

    /// <summary>--out, or runs/&lt;timestamp&gt;.</summary>
    public static RunFolder OutFolder(this ParseResult p) => p.GetValue(Out) is string dir ? new RunFolder(dir) : RunFolder.Timestamped();

    /// <summary>--data as given: a file, a folder or a data set name, resolved by the Core call that loads it.</summary>
    public static string? DataSpec(this ParseResult p) => p.GetValue(Data);

    /// <summary>The model, its training options and the run settings that `compare` and `train` options describe.</summary>
    public static (ModelConfig Config, TrainOptions Options, RunSettings Settings) ReadTraining(this ParseResult p, ModelKind kind)
    {
        var observation = p.GetValue(ObservationModel)!.ToLowerInvariant() switch
        {
            "bernoulli" => Observation.Bernoulli,
            "gaussian" => Observation.Gaussian,
            var o => throw new ArgumentException($"--observation must be bernoulli or gaussian, got '{o}'"),
        };
        var config = p.ReadModel(kind) with { Observation = observation, DecoderVariance = ParseVariance(p.GetValue(DecoderVarianceOption)!), Standardize = p.GetValue(Standardize) };
        if (p.GetValue(DecoderSigma) is double sigma)
        {
            if (observation != Observation.Gaussian) throw new ArgumentException("--decoder-sigma applies to --observation gaussian only");
            if (config.DecoderVariance != DecoderVariance.Fixed) throw new ArgumentException("--decoder-sigma applies to --decoder-variance fixed only (a learned sigma starts at 1)");
            config = config with { DecoderSigma = sigma };
        }
        if (p.GetValue(SigmaFloor) is double floor) config = config with { SigmaFloor = floor };
        var estimator = ParseEstimator(p.GetValue(Estimator)!);
        int? groups = p.GetValue(Groups);
        double? beta = p.GetValue(Beta);
        // Which options go together is the command line's business; every value is checked once, by the libraries.
        if (estimator is GradientEstimator.Miwae or GradientEstimator.Piwae)
        {
            if (groups is null) throw new ArgumentException($"--estimator {p.GetValue(Estimator)!.ToLowerInvariant()} needs --groups M (the k samples form M groups of k/M)");
        }
        else if (groups is not null) throw new ArgumentException("--groups applies to --estimator miwae or piwae only");
        if (beta is not null && estimator != GradientEstimator.Ciwae) throw new ArgumentException("--beta applies to --estimator ciwae only");
        var options = new TrainOptions { Stages = p.GetValue(Stages), Epochs = p.GetValue(Epochs), BatchSize = p.GetValue(Batch), Seed = p.GetValue(Seed),
                                         Estimator = estimator, Groups = groups ?? 1, Beta = beta ?? 0.5 };
        options = options with
        {
            LearningRate = p.GetValue(LearningRate) ?? options.LearningRate,
            ValidationFraction = p.GetValue(ValidationFraction) ?? options.ValidationFraction,
            ValidationK = p.GetValue(ValidationK),
            Patience = p.GetValue(Patience),
        };
        var settings = new RunSettings { Data = p.DataSpec(), TestFraction = p.GetValue(TestFraction), EvalK = p.GetValue(EvalK), OutDir = p.OutFolder().Path };
        // Checked here, before the command prints or loads anything; the library call checks the same again.
        settings.Validate(config, options);
        return (config, options, settings);
    }

    /// <summary>
    /// How the command runs, built once here and passed to its one library call: --threads (or, when it is not given,
    /// <paramref name="threadsWhenNotGiven"/> if any, else its default <see cref="Execution.DefaultThreads"/>), --fixed-threads
    /// where the command takes it, the command's cancellation (Ctrl+C, SIGTERM) and <paramref name="progress"/> (a display).
    /// </summary>
    public static Execution ReadExecution(this ParseResult p, CliIo io, object? progress = null, int? threadsWhenNotGiven = null)
    {
        int threads = !p.Given(Threads) && threadsWhenNotGiven is int t ? t : p.GetValue(Threads);
        var policy = p.GetResult(FixedThreads) is not null && p.GetValue(FixedThreads) ? ThreadPolicy.Fixed : ThreadPolicy.Adaptive;
        return new Execution(threads, policy, io.Cancel, progress);
    }

    /// <summary>The model of <paramref name="kind"/> that --k, --layers, --hidden and --latent describe (Burda et al.'s widths by default).</summary>
    public static ModelConfig ReadModel(this ParseResult p, ModelKind kind)
    {
        var config = new ModelConfig { Model = kind, K = p.GetValue(K) }.WithLayers(p.GetValue(Layers));
        if (p.Given(Hidden)) config = config with { Hidden = ParseHidden(p.GetValue(Hidden)!) };
        if (p.Given(Latent)) config = config with { Latent = p.GetValue(Latent) };
        return config;
    }

    /// <summary>Comma-separated values, each parsed by <paramref name="parse"/> (null: invalid, named in the error).</summary>
    public static T[] ParseList<T>(string text, string option, Func<string, T?> parse) where T : struct
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        var result = new T[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = parse(items[i]) ?? throw new ArgumentException($"{option}: '{items[i]}' is not valid in '{text}'");
        return result;
    }

    private static int[] ParseHidden(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out widths[i]))
                throw new ArgumentException($"--hidden must be widths {Limits.Width.Range} separated by commas (e.g. 200,200), got '{text}'");
        return widths;
    }

    private static DecoderVariance ParseVariance(string name)
        => ModelConfig.VarianceNamed(name) ?? throw new ArgumentException($"--decoder-variance must be fixed, shared or per-dimension, got '{name}'");

    private static GradientEstimator ParseEstimator(string name)
        => EstimatorNamed(name) ?? throw new ArgumentException($"--estimator must be one of {EstimatorNames}, got '{name}'");

    /// <summary>The estimator a command-line name stands for (any case), or null for an unknown name.</summary>
    public static GradientEstimator? EstimatorNamed(string name)
        => Enum.GetValues<GradientEstimator>().Select(e => (GradientEstimator?)e).FirstOrDefault(e => e.ToString()!.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>iwae or vae, any case.</summary>
    public static ModelKind ParseModel(string name) => name.ToLowerInvariant() switch
    {
        "iwae" => ModelKind.Iwae,
        "vae" => ModelKind.Vae,
        _ => throw new ArgumentException($"--model must be iwae or vae, got '{name}'"),
    };
}
