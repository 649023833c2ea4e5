using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json;
using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Datasets;

namespace Iwae.Experiments;

/// <summary>One trained model's test figures: a row of the comparison table and of results.json.</summary>
public sealed record ModelResult
{
    /// <summary>"iwae" or "vae".</summary>
    public required string Model { get; init; }
    /// <summary>Samples per input in training.</summary>
    public required int K { get; init; }
    /// <summary>Test negative log-likelihood estimate -L_k at k = <see cref="EvalK"/>, nats (lower is better).</summary>
    public required double TestNll { get; init; }
    /// <summary>k of <see cref="TestNll"/> (5000 in the paper and by default).</summary>
    public int EvalK { get; init; } = 5000;
    /// <summary>Test bound at k = 1 (the ELBO), nats.</summary>
    [JsonPropertyName("test_bound_k1")] public required double TestBoundK1 { get; init; }
    /// <summary>Test bound at the training k, nats.</summary>
    public required double TestBoundK { get; init; }
    /// <summary>Latent dimensions with Var_x E_q[z_i|x] above 0.01.</summary>
    public required int ActiveUnits { get; init; }
    /// <summary>Wall time of training.</summary>
    public required double TrainSeconds { get; init; }
    /// <summary>Wall time of the evaluation.</summary>
    public required double EvalSeconds { get; init; }
    /// <summary>Epochs trained.</summary>
    public required int Epochs { get; init; }
    /// <summary>Final training bound (mean over the last epoch's minibatches).</summary>
    public required double FinalTrainBound { get; init; }
    /// <summary>Var_x E_q[z_i|x] per latent dimension.</summary>
    public required double[] UnitVariances { get; init; }
    /// <summary>The checkpoint written, if any.</summary>
    public string? Checkpoint { get; init; }
    /// <summary>The gradient estimator it was trained with ("iwae", "dreg", ...).</summary>
    public string Estimator { get; init; } = "iwae";
    /// <summary>Active units of each stochastic layer (h1, then h2 with two layers); the first is <see cref="ActiveUnits"/>.</summary>
    public int[] ActiveUnitsPerLayer { get; init; } = [];
    /// <summary>
    /// With a validation split (<see cref="TrainOptions.ValidationFraction"/>): the best epoch, its bound, whether training
    /// stopped early, and that the test figures are of the best epoch's weights; null (and absent from the file) without one.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ValidationResult? Validation { get; init; }
}

/// <summary>What validation decided in a run with a validation split (results.json's "validation" of a model).</summary>
public sealed record ValidationResult
{
    /// <summary>Training examples held out for validation.</summary>
    public required int Images { get; init; }
    /// <summary>k of the validation bound L_k.</summary>
    public required int K { get; init; }
    /// <summary>The epoch with the highest validation bound (0 when none was finite).</summary>
    public required int BestEpoch { get; init; }
    /// <summary>Its validation bound, nats (higher is better).</summary>
    public required double BestBound { get; init; }
    /// <summary>Epochs trained: the best epoch, then those without improvement.</summary>
    public required int Epochs { get; init; }
    /// <summary>Whether early stopping ended training before the schedule did.</summary>
    public required bool StoppedEarly { get; init; }
    /// <summary>The patience of early stopping, or null when the whole schedule runs.</summary>
    public int? Patience { get; init; }
    /// <summary>Which weights the test figures are of: "best" (the best epoch's; always, once there is one) or "last".</summary>
    public required string EvaluatedWeights { get; init; }
    /// <summary>The file holding the best epoch's weights (&lt;model&gt;-best.safetensors), if written.</summary>
    public string? Checkpoint { get; init; }
}

/// <summary>The learning-rate schedule a run trained with, as results.json names it ("schedule").</summary>
/// <param name="Name">"burda" (stage i: 3^(i-1) epochs at lr * 10^(-(i-1)/7)) or "constant" (every epoch at lr).</param>
/// <param name="LearningRate">The base learning rate (stage 1's, or every epoch's).</param>
/// <param name="Epochs">Epochs the schedule runs (early stopping may end it sooner).</param>
public sealed record ScheduleRecord(string Name, double LearningRate, int Epochs)
{
    /// <summary>The schedule of <paramref name="options"/>.</summary>
    public static ScheduleRecord Of(TrainOptions options) => new(options.ScheduleName, options.LearningRate, options.TotalEpochs);
}

/// <summary>
/// How a run was executed, as results.json records it for information ("execution": {"threads": 2, "thread_policy":
/// "adaptive"}): never compared on resume or by a sweep, since it does not change the bits.
/// </summary>
/// <param name="Threads">Kernel threads (<see cref="Execution.Threads"/>).</param>
/// <param name="ThreadPolicy">Whether steps could run on one thread (<see cref="Execution.Policy"/>).</param>
public sealed record ExecutionRecord(int Threads, ThreadPolicy ThreadPolicy);

/// <summary>
/// A run folder's results.json: each model's figures and the settings they were run with. <see cref="RunFolder"/>
/// writes and reads it; fields: models, config, train, schedule, eval_k, data, test_fraction, train_images, test_images, kernels,
/// execution, machine. Files written before the execution was recorded apart carry "threads" and "adaptive_threads" in
/// train; reading ignores them.
/// Each model's test NLL is <c>test_nll</c> with its <c>eval_k</c> beside it; files written before that named it
/// <c>test_nll_k5000</c> (at the run's eval_k, whatever its value) and still read.
/// </summary>
public sealed record RunResults
{
    /// <summary>The models in file order (VAE, then IWAE, for `iwae compare`).</summary>
    public required IReadOnlyList<ModelResult> Models { get; init; }

    /// <summary>The model config they share (architecture, k, latent, observation); <c>model</c> names the last one.</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>The training options (the IWAE's, in a comparison: the VAE trains with the plain ELBO gradient).</summary>
    public TrainOptions? Train { get; init; }

    /// <summary>The learning-rate schedule by name, with its base learning rate; null in older files.</summary>
    public ScheduleRecord? Schedule { get; init; }

    /// <summary>k of the test log-likelihood estimate.</summary>
    public int EvalK { get; init; } = 5000;

    /// <summary>The data folder as recorded ("data/mnist-subset" for the embedded subset).</summary>
    public string? Data { get; init; }

    /// <summary>Share of the examples held out for testing, for data without a test split of their own.</summary>
    public double TestFraction { get; init; } = DataSource.DefaultTestFraction;

    /// <summary>Training images.</summary>
    public int TrainImages { get; init; }

    /// <summary>Test images.</summary>
    public int TestImages { get; init; }

    /// <summary>The SIMD path the kernels ran on.</summary>
    public string? Kernels { get; init; }

    /// <summary>How the run was executed (the session that finished it), for information; null in older files.</summary>
    public ExecutionRecord? Execution { get; init; }

    /// <summary>Cores and operating system of the machine.</summary>
    public string? Machine { get; init; }

    /// <summary>Every setting but the models, flattened to (section, name, value) in file order, for reports.</summary>
    [JsonIgnore] public IReadOnlyList<(string Section, string Name, string Value)> Settings { get; init; } = [];

    /// <summary>The model named <paramref name="name"/> ("vae", "iwae"), if present.</summary>
    public ModelResult? Model(string name) => Models.FirstOrDefault(m => string.Equals(m.Model, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The JSON text of results.json.</summary>
    public string ToJson() => IwaeJson.Serialize(this);

    /// <summary>Parses results.json text; throws <see cref="InvalidDataException"/> naming <paramref name="source"/> when it is not one.</summary>
    public static RunResults Parse(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            int evalK = root.TryGetProperty("eval_k", out var k) ? k.GetInt32() : 5000;
            var models = root.GetProperty("models").EnumerateArray().Select(m => ReadModel(m, evalK)).ToArray();
            if (models.Length == 0) throw new InvalidDataException("no models");
            var settings = new List<(string, string, string)>();
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name == "models") continue;
                if (p.Value.ValueKind == JsonValueKind.Object)
                    foreach (var q in p.Value.EnumerateObject())
                    {
                        // config.model names whichever model the config was copied from; the report shows both.
                        if (p.Name == "config" && q.Name == "model") continue;
                        settings.Add((p.Name, q.Name, Text(q.Value)));
                    }
                else settings.Add(("run", p.Name, Text(p.Value)));
            }
            return new RunResults
            {
                Models = models,
                Config = ModelConfig.FromJson(root.GetProperty("config").GetRawText()),
                Train = root.TryGetProperty("train", out var train) && train.ValueKind == JsonValueKind.Object ? train.Deserialize<TrainOptions>(IwaeJson.Options) : null,
                Schedule = root.TryGetProperty("schedule", out var schedule) && schedule.ValueKind == JsonValueKind.Object ? schedule.Deserialize<ScheduleRecord>(IwaeJson.Options) : null,
                EvalK = evalK,
                Data = root.TryGetProperty("data", out var d) ? d.GetString() : null,
                TestFraction = root.TryGetProperty("test_fraction", out var tf) ? tf.GetDouble() : DataSource.DefaultTestFraction,
                TrainImages = root.TryGetProperty("train_images", out var tr) ? tr.GetInt32() : 0,
                TestImages = root.TryGetProperty("test_images", out var te) ? te.GetInt32() : 0,
                Kernels = root.TryGetProperty("kernels", out var kn) ? kn.GetString() : null,
                Execution = root.TryGetProperty("execution", out var ex) && ex.ValueKind == JsonValueKind.Object ? ex.Deserialize<ExecutionRecord>(IwaeJson.Options) : null,
                Machine = root.TryGetProperty("machine", out var mc) ? mc.GetString() : null,
                Settings = settings,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or InvalidDataException)
        {
            throw new InvalidDataException($"{source}: not a valid results.json ({e.Message.ReplaceLineEndings(" ")})");
        }
    }

    /// <summary>The old name of <see cref="ModelResult.TestNll"/>, which it kept whatever the eval k.</summary>
    private const string LegacyTestNll = "test_nll_k5000";

    /// <summary>One entry of models; an entry of an older file (<see cref="LegacyTestNll"/>, no eval_k) takes the run's <paramref name="evalK"/>.</summary>
    private static ModelResult ReadModel(JsonElement m, int evalK)
    {
        if (m.ValueKind != JsonValueKind.Object) throw new InvalidDataException("a model entry is not an object");
        if (m.TryGetProperty("test_nll", out _)) return m.Deserialize<ModelResult>(IwaeJson.Options)!;
        var entry = JsonObject.Create(m)!;
        if (entry[LegacyTestNll] is { } old) entry["test_nll"] = old.DeepClone();
        if (!entry.ContainsKey("eval_k")) entry["eval_k"] = evalK;
        return entry.Deserialize<ModelResult>(IwaeJson.Options)!;
    }

    private static string Text(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() ?? "",
        JsonValueKind.Array => string.Join(", ", e.EnumerateArray().Select(Text)),
        JsonValueKind.Number when e.TryGetDouble(out var v) => v.ToString("G6", CultureInfo.InvariantCulture),
        JsonValueKind.Null => "-",
        _ => e.GetRawText(),
    };
}
