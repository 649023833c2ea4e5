using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;

namespace Iwae.Experiments;

/// <summary>One model's learning curve: the training bound every epoch and the test NLL at the end of every stage.</summary>
/// <param name="Model">"vae" or "iwae".</param>
/// <param name="Epochs">Epoch numbers (1-based) of <paramref name="TrainBound"/>.</param>
/// <param name="TrainBound">Mean training bound L_k per epoch, nats (negative).</param>
/// <param name="StageEpochs">Epoch at the end of each stage.</param>
/// <param name="StageTestNll">Test NLL estimate at the end of each stage, nats (positive).</param>
public sealed record LearningCurve(string Model, double[] Epochs, double[] TrainBound, double[] StageEpochs, double[] StageTestNll);

/// <summary>A model of a run folder and its <see cref="ModelAnalysis"/> on the test set.</summary>
/// <param name="Model">"vae" or "iwae", as results.json names it.</param>
/// <param name="Analysis">Its latent means, their projection, reconstructions, decoded prior draws and manifold.</param>
public sealed record AnalysedModel(string Model, ModelAnalysis Analysis);

/// <summary>
/// What a run folder's figures and report.html show, computed from its files (results.json, the checkpoints, the
/// metrics and stage files) and its test data: the learning curves, and each model's <see cref="ModelAnalysis"/> of the
/// test set (the data results.json records unless others are given; the embedded subset by default). Plain data, no
/// drawing: `iwae plot` draws it, `iwae compare` ends with it.
/// </summary>
public sealed record RunAnalysis
{
    /// <summary>The run folder.</summary>
    public required string Folder { get; init; }

    /// <summary>Its results.json.</summary>
    public required RunResults Results { get; init; }

    /// <summary>The learning curve of every model that has an epoch or a stage on record, in results.json's order.</summary>
    public required IReadOnlyList<LearningCurve> Curves { get; init; }

    /// <summary>The first stage point of the first model (its k and images say what the stage NLL measured), or null.</summary>
    public StageMetrics? FirstStage { get; init; }

    /// <summary>Every model of results.json, analysed on the test set, in its order.</summary>
    public required IReadOnlyList<AnalysedModel> Models { get; init; }

    /// <summary>The test set's label of each example (the latent points' colour); empty for unlabelled data.</summary>
    public required byte[] Labels { get; init; }

    /// <summary>Test examples encoded.</summary>
    public required int TestCount { get; init; }

    /// <summary>Values per example, D.</summary>
    public required int ValuesPerExample { get; init; }

    /// <summary>The side of the square image an example is, or null when D is not a square (then no images are decoded).</summary>
    public int? ImageSide { get; init; }

    /// <summary>The first test examples as read, [n,D] (those reconstructed); null without <see cref="ImageSide"/>.</summary>
    public Tensor<float>? TestImages { get; init; }

    /// <summary>The same examples binarised as the models saw them, [n,D]; null unless the observation model is Bernoulli and they are images.</summary>
    public Tensor<float>? Binarized { get; init; }

    /// <summary>Whether the test examples carry labels.</summary>
    public bool HasLabels => Labels.Length > 0;

    /// <summary>
    /// Reads the run folder <paramref name="runDir"/> (written by `iwae compare`) and analyses its models on its test data.
    /// </summary>
    /// <param name="runDir">The run folder.</param>
    /// <param name="data">The data to use (a --data spec); null for those results.json records.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="options">What to decode; null for the defaults of <see cref="AnalysisOptions"/>.</param>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <exception cref="FileNotFoundException">No results.json in it.</exception>
    public static RunAnalysis Read(string runDir, string? data = null, Action<string>? log = null, AnalysisOptions? options = null)
    {
        var folder = new RunFolder(runDir);
        if (!folder.Exists) throw new DirectoryNotFoundException($"{runDir}: run folder not found");
        var results = folder.ReadResults();
        var curves = results.Models.Select(m => ReadCurve(folder, m.Model)).Where(c => c.Epochs.Length > 0 || c.StageEpochs.Length > 0).ToArray();
        var firstStage = results.Models.Count > 0 ? folder.ReadStages(results.Models[0].Model).FirstOrDefault() : null;

        var loaded = Runs.LoadData(new RunSettings { Data = ResolveData(data ?? results.Data), TestFraction = results.TestFraction }, results.Config);
        var models = results.Models.Select(m => (m.Model, Net: RunCheckpoint.LoadModel(folder.Checkpoint(m)))).ToArray();
        foreach (var (_, net) in models) loaded.CheckFits(net.Config);
        log?.Invoke($"plot: encoding {loaded.TestX.Rows} test images with {string.Join(" and ", models.Select(m => m.Model))}");

        int d = loaded.TestX.Cols, side = (int)Math.Round(Math.Sqrt(d));
        int? imageSide = side * side == d ? side : null;
        options ??= new AnalysisOptions();
        if (imageSide is null)
        {
            options = options.WithoutImages();
            log?.Invoke($"plot: {d} values per example are not a square image; reconstructions and samples are not drawn");
        }
        int n = Math.Min(options.Reconstructions, loaded.TestX.Rows);
        return new RunAnalysis
        {
            Folder = folder.Path,
            Results = results,
            Curves = curves,
            FirstStage = firstStage,
            Models = [.. models.Select(m => new AnalysedModel(m.Model, ModelAnalysis.Of(m.Net, loaded.TestX, options)))],
            Labels = loaded.Test.Labels,
            TestCount = loaded.TestX.Rows,
            ValuesPerExample = d,
            ImageSide = imageSide,
            TestImages = imageSide is null ? null : (Tensor<float>?)loaded.Test.Images.RowSlice(0, n).Clone(),
            Binarized = imageSide is not null && results.Config.Observation == Observation.Bernoulli ? loaded.TestX.RowSlice(0, n).Clone() : (Tensor<float>?)null,
        };
    }

    /// <summary>The embedded subset when <paramref name="data"/> is its recorded relative name and not found from here.</summary>
    internal static string? ResolveData(string? data)
        => data is null || (data == Mnist.SubsetFolder && !Directory.Exists(data)) ? null : data;

    /// <summary>Epoch bounds and stage NLLs from the folder's metrics and stage files (missing files: empty).</summary>
    internal static LearningCurve ReadCurve(RunFolder folder, string model)
    {
        var epochs = folder.ReadMetrics(model);
        var stages = folder.ReadStages(model);
        return new LearningCurve(model, [.. epochs.Select(e => (double)e.Epoch)], [.. epochs.Select(e => e.TrainBound)],
            [.. stages.Select(s => (double)s.Epoch)], [.. stages.Select(s => s.TestNll)]);
    }
}

/// <summary>
/// What `iwae plot` draws from a folder: a run folder's <see cref="RunAnalysis"/>, or for a sweep folder every finished
/// run's and the sweep's <see cref="SweepAnalysis"/>.
/// </summary>
/// <param name="Runs">The runs, in the sweep's order (one for a run folder).</param>
/// <param name="Sweep">The sweep's table and pairs; null for a run folder.</param>
public sealed record FolderAnalysis(IReadOnlyList<RunAnalysis> Runs, SweepAnalysis? Sweep)
{
    /// <summary>
    /// The analysis of <paramref name="dir"/>: a sweep folder (sweep.json) gives each run that has results and the sweep's
    /// (which writes its results.csv and results.json); any other folder is read as a run folder.
    /// </summary>
    /// <param name="dir">A run folder or a sweep folder.</param>
    /// <param name="data">The data to use (a --data spec); null for those each results.json records.</param>
    /// <param name="log">Progress lines.</param>
    public static FolderAnalysis Read(string dir, string? data = null, Action<string>? log = null)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: run folder not found");
        var sweep = new SweepFolder(dir);
        if (!sweep.Exists) return new FolderAnalysis([RunAnalysis.Read(dir, data, log)], null);
        var runs = sweep.ReadPlan().Runs.Select(sweep.Run).Where(f => File.Exists(f.Results)).Select(f => RunAnalysis.Read(f.Path, data, log)).ToArray();
        return new FolderAnalysis(runs, SweepAnalysis.Collect(sweep, log));
    }
}
