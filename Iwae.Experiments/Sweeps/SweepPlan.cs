using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.Json;
using Iwae.Autodiff;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Datasets;

namespace Iwae.Experiments.Sweeps;

/// <summary>Everything that defines one run of a sweep: the model, how it trains, and the data it reads.</summary>
public sealed record SweepRunOptions
{
    /// <summary>The model (its input size follows the data when the run starts).</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>
    /// How it trains. How it runs is each worker's own (--threads, SLURM_CPUS_PER_TASK, --fixed-threads): sweep.json
    /// files written before that was so carry "threads" and "adaptive_threads" here, which reading ignores.
    /// </summary>
    public required TrainOptions Train { get; init; }

    /// <summary>The data (<see cref="RunSettings.Data"/>); null for the embedded subset.</summary>
    public string? Data { get; init; }

    /// <summary>Share held out for testing when the data have no test split.</summary>
    public double TestFraction { get; init; } = DataSource.DefaultTestFraction;

    /// <summary>k of the final test NLL estimate.</summary>
    public int EvalK { get; init; } = 5000;

    /// <summary>The run settings of these options for a run folder.</summary>
    public RunSettings Settings(string outDir) => new() { Data = Data, TestFraction = TestFraction, EvalK = EvalK, OutDir = outDir };

    /// <summary>
    /// Checks every field (model config, training options and their estimator, eval k, test fraction, data spec) as a
    /// run would, before anything trains; <see cref="ArgumentException"/> naming the field as sweep.json spells it.
    /// </summary>
    public SweepRunOptions Validate()
    {
        if (Config is null) throw new ArgumentException("options.config is missing");
        if (Train is null) throw new ArgumentException("options.train is missing");
        try { Config.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"options.config: {e.Message}"); }
        try { Train.Validate(Config); }
        catch (ArgumentException e) { throw new ArgumentException($"options.train: {e.Message}"); }
        try { Settings(".").Validate(); }
        catch (SettingException e) { throw e.Renamed($"options.{e.Field}"); }
        if (Data is not null && (string.IsNullOrWhiteSpace(Data) || Data.IndexOfAny(['\n', '\r', '\0']) >= 0))
            throw new ArgumentException($"options.data '{Data.ReplaceLineEndings(" ")}' is not a file, folder or data set name (null for the embedded subset)");
        return this;
    }

    /// <summary>
    /// The first way a run folder's recorded identity differs from these options, as "FIELD is X there, Y in
    /// sweep.json", or null when it is this run's: the model config (its input size follows the data, so it is not
    /// compared), the training options, the data, the test fraction and, when <paramref name="evalK"/> is given
    /// (results.json), the eval k. How the run was executed is no part of them.
    /// </summary>
    public string? Mismatch(ModelConfig config, TrainOptions train, string? data, double testFraction, int? evalK = null)
    {
        string? d = Differ("config", Json(config with { InputSize = Config.InputSize }), Json(Config))
                    ?? Differ("train", Json(train), Json(Train));
        if (d is not null) return d;
        // results.json records the embedded subset by its folder, a checkpoint as no data (null).
        if ((data ?? Mnist.SubsetFolder) != (Data ?? Mnist.SubsetFolder)) return $"data is {Show(data)} there, {Show(Data)} in sweep.json";
        if (testFraction != TestFraction) return $"test_fraction is {testFraction.ToString("R", CultureInfo.InvariantCulture)} there, {TestFraction.ToString("R", CultureInfo.InvariantCulture)} in sweep.json";
        if (evalK is int k && k != EvalK) return $"eval_k is {k} there, {EvalK} in sweep.json";
        return null;

        static string Show(string? v) => v is null or Mnist.SubsetFolder ? "the embedded subset" : $"'{v}'";
        static JsonElement Json<T>(T value) => JsonSerializer.SerializeToElement(value, IwaeJson.Options);
        static string? Differ(string section, JsonElement there, JsonElement here)
        {
            foreach (var p in here.EnumerateObject())
            {
                string a = there.TryGetProperty(p.Name, out var v) ? v.GetRawText() : "null", b = p.Value.GetRawText();
                if (a != b) return $"{section}.{p.Name} is {a} there, {b} in sweep.json";
            }
            return null;
        }
    }
}

/// <summary>One run of a sweep: its index (the array task that runs it), its name (its folder) and its options.</summary>
/// <param name="Index">0-based; Slurm's SLURM_ARRAY_TASK_ID or Kubernetes' JOB_COMPLETION_INDEX.</param>
/// <param name="Name">Folder name under runs/, e.g. "l1-iwae-k50".</param>
/// <param name="Options">What it trains.</param>
public sealed record SweepRun([property: JsonRequired] int Index, [property: JsonRequired] string Name, [property: JsonRequired] SweepRunOptions Options);

/// <summary>
/// sweep.json: the runs of a sweep, each a pure function of its options, so any worker on any machine can run any of
/// them from the shared folder. <see cref="Preset"/> names the layout the collected results take (the paper's Table 1).
/// </summary>
public sealed record SweepPlan
{
    /// <summary>The format tag of sweep.json.</summary>
    public const string CurrentFormat = "iwae.net/sweep/1";

    /// <summary>The format tag; <see cref="CurrentFormat"/>.</summary>
    public string Format { get; init; } = CurrentFormat;

    /// <summary>The preset the sweep was planned from ("burda-table1"), or null.</summary>
    public string? Preset { get; init; }

    /// <summary>The runs, by index.</summary>
    public required IReadOnlyList<SweepRun> Runs { get; init; }

    /// <summary>
    /// Checks the format, the indices (0..N-1, in order), the names (distinct, plain folder names) and every field of
    /// every run (<see cref="SweepRunOptions.Validate"/>); returns this. <see cref="ArgumentException"/> naming the run
    /// and the field.
    /// </summary>
    public SweepPlan Validate()
    {
        if (Format != CurrentFormat) throw new ArgumentException($"format '{Format}' is not {CurrentFormat}");
        if (Runs is null || Runs.Count == 0) throw new ArgumentException("runs: a sweep needs at least one run");
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Runs.Count; i++)
        {
            var r = Runs[i] ?? throw new ArgumentException($"runs[{i}] is null, not a run");
            if (r.Index != i) throw new ArgumentException($"runs[{i}]: index is {r.Index}, not {i} (runs are numbered 0..N-1 in order)");
            if (string.IsNullOrWhiteSpace(r.Name) || r.Name.IndexOfAny(['/', '\\']) >= 0 || r.Name is "." or ".." || r.Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
                throw new ArgumentException($"run {i}: name '{r.Name}' is not a plain folder name");
            if (names.TryGetValue(r.Name, out int other)) throw new ArgumentException($"run {i}: name '{r.Name}' is run {other}'s too");
            names.Add(r.Name, i);
            if (r.Options is null) throw new ArgumentException($"run {i} ({r.Name}): options is missing");
            try { r.Options.Validate(); }
            catch (ArgumentException e) { throw new ArgumentException($"run {i} ({r.Name}): {e.Message}"); }
        }
        return this;
    }

    /// <summary>The JSON text of sweep.json.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Indented);

    /// <summary>
    /// Parses and validates sweep.json; <see cref="InvalidDataException"/>, one line naming <paramref name="source"/>
    /// and the run and field at fault, when it is not one (bad JSON, a wrong type, a missing field, a bad value).
    /// </summary>
    public static SweepPlan Parse(string json, string source)
    {
        SweepPlan plan;
        try { plan = IwaeJson.Deserialize<SweepPlan>(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not a valid sweep.json: {Problem(e)}"); }
        try { return plan.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message}"); }
    }

    // System.Text.Json's messages name .NET types; say where and what instead: the JSON path, the line, and whether a
    // field is missing, of the wrong type, or the text is not JSON at all.
    private static string Problem(JsonException e)
    {
        string where = e.Path is { Length: > 1 } p ? p.TrimStart('$').TrimStart('.') : "";
        string line = e.LineNumber is long n ? $" (line {n + 1})" : "";
        const string Missing = "missing required properties including: ";
        int m = e.Message.IndexOf(Missing, StringComparison.Ordinal);
        if (m >= 0)
            return $"{(where.Length > 0 ? where + ": " : "")}missing {e.Message[(m + Missing.Length)..].TrimEnd('.').Trim()}{line}";
        // The reader's own errors (bad syntax) come wrapped, and name no types.
        if (!e.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal) && (e.InnerException ?? e) is JsonException { Path: null } syntax)
            return $"not JSON: {Cut(syntax.Message)}{line}";
        return $"{(where.Length > 0 ? where : "the top level")}: a value of the wrong type{line}";

        static string Cut(string message)
        {
            int cut = message.IndexOf(" Path:", StringComparison.Ordinal) is var c and >= 0 ? c : message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            return (cut >= 0 ? message[..cut] : message).TrimEnd();
        }
    }

    private static readonly JsonSerializerOptions Indented = new(IwaeJson.Options) { WriteIndented = true };
}

/// <summary>The ways to plan a sweep: a grid over options, a list of encoder shapes, or the paper's Table 1.</summary>
public static class SweepPlanner
{
    /// <summary>The preset of Burda et al.'s Table 1: 1 and 2 stochastic layers x {VAE, IWAE} x k in {1, 5, 50}.</summary>
    public const string BurdaTable1 = "burda-table1";

    /// <summary>The keys a grid may vary.</summary>
    public static readonly IReadOnlyList<string> GridKeys = ["model", "k", "layers", "seed", "hidden", "latent", "estimator", "stages", "epochs", "batch"];

    /// <summary>
    /// Every combination of <paramref name="grid"/> ("model=vae,iwae;k=1,5,50;layers=1,2;seed=1,2"; hidden as WIDTHxDEPTH,
    /// e.g. hidden=100x1,200x2) applied to <paramref name="baseline"/>, in the order the keys are given, the last key
    /// varying fastest. Names join the varied values ("vae-k1-l1-s1").
    /// </summary>
    public static SweepPlan Grid(SweepRunOptions baseline, string grid)
    {
        var axes = new List<(string Key, string[] Values)>();
        foreach (var part in grid.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--grid: '{part}' is not KEY=V1,V2,... (keys: {string.Join(", ", GridKeys)})");
            string key = part[..eq].Trim().ToLowerInvariant();
            if (!GridKeys.Contains(key)) throw new ArgumentException($"--grid: unknown key '{key}' (keys: {string.Join(", ", GridKeys)})");
            if (axes.Any(a => a.Key == key)) throw new ArgumentException($"--grid: key '{key}' given twice");
            var values = part[(eq + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (values.Length == 0) throw new ArgumentException($"--grid: key '{key}' has no values");
            axes.Add((key, values));
        }
        if (axes.Count == 0) throw new ArgumentException("--grid: give at least one KEY=V1,V2,...");
        var runs = new List<SweepRun>();
        void Expand(int axis, SweepRunOptions o, List<string> name)
        {
            if (axis == axes.Count)
            {
                runs.Add(new SweepRun(runs.Count, string.Join("-", name), o));
                return;
            }
            foreach (var v in axes[axis].Values)
            {
                var (next, label) = Apply(o, axes[axis].Key, v);
                Expand(axis + 1, next, [.. name, label]);
            }
        }
        Expand(0, baseline, []);
        return new SweepPlan { Runs = runs }.Validate();
    }

    /// <summary>
    /// A VAE and an IWAE for every encoder shape of <paramref name="shapes"/> (WIDTHxDEPTH, as `compare --sweep` takes
    /// them): what `compare --sweep` runs. The VAE keeps the plain ELBO gradient, as in `compare`.
    /// </summary>
    public static SweepPlan Shapes(SweepRunOptions baseline, IReadOnlyList<int[]> shapes)
    {
        var runs = new List<SweepRun>();
        foreach (var hidden in shapes)
            foreach (var kind in new[] { ModelKind.Vae, ModelKind.Iwae })
                runs.Add(new SweepRun(runs.Count, $"h{string.Join("-", hidden)}-{RunFolder.ModelName(kind)}", ForKind(baseline with { Config = baseline.Config with { Hidden = hidden } }, kind)));
        return new SweepPlan { Runs = runs }.Validate();
    }

    /// <summary>
    /// Burda et al.'s Table 1 on <paramref name="baseline"/>'s data: 1 and 2 stochastic layers (784-200-200-50 and
    /// 784-200-200-100 | 100-100-100-50, unless the baseline's hidden widths are given), VAE and IWAE, k = 1, 5, 50;
    /// named "l1-vae-k5" and so on. The baseline carries everything else (stages: 8 in the paper).
    /// </summary>
    public static SweepPlan Table1(SweepRunOptions baseline, int[]? hidden = null, int? latent = null)
    {
        var runs = new List<SweepRun>();
        foreach (int layers in new[] { 1, 2 })
            foreach (var kind in new[] { ModelKind.Vae, ModelKind.Iwae })
                foreach (int k in new[] { 1, 5, 50 })
                {
                    var config = baseline.Config.WithLayers(layers) with { K = k };
                    if (hidden is not null) config = config with { Hidden = hidden };
                    if (latent is int z) config = config with { Latent = z };
                    runs.Add(new SweepRun(runs.Count, $"l{layers}-{RunFolder.ModelName(kind)}-k{k}", ForKind(baseline with { Config = config }, kind)));
                }
        return new SweepPlan { Preset = BurdaTable1, Runs = runs }.Validate();
    }

    /// <summary>
    /// <paramref name="plan"/> with each run's input size read from its data (so that sweep.json, status and collect
    /// show the architecture the run trains), and the data checked as a run will read them: a file or folder that does
    /// not read, or values a Bernoulli model cannot take, throw <see cref="DataFormatException"/>. A known data set not
    /// fetched into <paramref name="dataDirectory"/> (default <see cref="DataSets.DefaultDirectory()"/>) is not an
    /// error: it is listed in <paramref name="notFetched"/>, and its runs keep the input size given.
    /// </summary>
    public static SweepPlan WithData(SweepPlan plan, out IReadOnlyList<DataSetDefinition> notFetched, string? dataDirectory = null)
        => WithData(plan, allowNotFetched: true, out notFetched, dataDirectory);

    /// <summary>
    /// <paramref name="plan"/> with each run's input size read from its data, for a sweep that runs here and now
    /// (`compare --sweep`): as <see cref="WithData(SweepPlan, out IReadOnlyList{DataSetDefinition}, string?)"/>, except that a
    /// known data set not fetched is refused as the runs would refuse it (<see cref="DataFormatException"/> saying how to fetch it).
    /// </summary>
    public static SweepPlan WithData(SweepPlan plan) => WithData(plan, allowNotFetched: false, out _, dataDirectory: null);

    private static SweepPlan WithData(SweepPlan plan, bool allowNotFetched, out IReadOnlyList<DataSetDefinition> notFetched, string? dataDirectory)
    {
        string dir = dataDirectory ?? DataSets.DefaultDirectory();
        var sizes = new Dictionary<(string?, double, Observation), int?>();
        var missing = new List<DataSetDefinition>();
        var runs = new List<SweepRun>();
        foreach (var run in plan.Runs)
        {
            var o = run.Options;
            var key = (o.Data, o.TestFraction, o.Config.Observation);
            if (!sizes.TryGetValue(key, out int? size))
            {
                // Resolved as DataSource.Load resolves it: a file or folder of that name first, then a known set.
                if (allowNotFetched && o.Data is { } spec && !File.Exists(spec) && !Directory.Exists(spec) && DataSets.TryGet(spec, out var set) && !DataSets.IsPresent(set, dir))
                {
                    if (!missing.Contains(set)) missing.Add(set);
                    size = null;
                }
                else size = Runs.LoadData(o.Settings(""), o.Config.Observation).Train.PixelsPerImage;
                sizes[key] = size;
            }
            runs.Add(size is int n ? run with { Options = o with { Config = o.Config with { InputSize = n } } } : run);
        }
        notFetched = missing;
        return (plan with { Runs = runs }).Validate();
    }

    /// <summary>The options for a <paramref name="kind"/> model: a VAE trains on the plain ELBO gradient.</summary>
    private static SweepRunOptions ForKind(SweepRunOptions o, ModelKind kind) => o with
    {
        Config = o.Config with { Model = kind },
        Train = kind == ModelKind.Vae ? o.Train with { Estimator = GradientEstimator.Iwae, Groups = 1 } : o.Train,
    };

    private static (SweepRunOptions Options, string Label) Apply(SweepRunOptions o, string key, string value)
    {
        int Int(int min)
        {
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min)
                throw new ArgumentException($"--grid: {key}={value} is not a whole number >= {min}");
            return v;
        }
        return key switch
        {
            "model" => value.ToLowerInvariant() switch
            {
                "vae" => (ForKind(o, ModelKind.Vae), "vae"),
                "iwae" => (ForKind(o, ModelKind.Iwae), "iwae"),
                _ => throw new ArgumentException($"--grid: model={value} is not vae or iwae"),
            },
            "k" => (o with { Config = o.Config with { K = Int(1) } }, "k" + value),
            // The baseline's widths stay (give --hidden and --latent for the first layer); the second layer is 100-100-50.
            "layers" => Int(1) is var l and (1 or 2)
                ? (o with { Config = o.Config with { Layers = l } }, "l" + value)
                : throw new ArgumentException($"--grid: layers={value} is not 1 or 2"),
            "seed" => (o with { Train = o.Train with { Seed = (ulong)Int(0) } }, "s" + value),
            "hidden" => (o with { Config = o.Config with { Hidden = ParseShape(value) } }, "h" + string.Join("-", ParseShape(value))),
            "latent" => (o with { Config = o.Config with { Latent = Int(1) } }, "z" + value),
            "estimator" => Enum.TryParse<GradientEstimator>(value, ignoreCase: true, out var e) && Enum.IsDefined(e) && !char.IsDigit(value[0])
                ? (o with { Train = o.Train with { Estimator = e } }, value.ToLowerInvariant())
                : throw new ArgumentException($"--grid: estimator={value} is not one of {string.Join(", ", Enum.GetNames<GradientEstimator>().Select(n => n.ToLowerInvariant()))}"),
            "stages" => (o with { Train = o.Train with { Stages = Int(1), Epochs = null } }, "st" + value),
            "epochs" => (o with { Train = o.Train with { Epochs = Int(0) } }, "e" + value),
            "batch" => (o with { Train = o.Train with { BatchSize = Int(1) } }, "b" + value),
            _ => throw new ArgumentException($"--grid: unknown key '{key}'"),
        };
    }

    /// <summary>"200x2" (or "200") as hidden widths [200, 200].</summary>
    public static int[] ParseShape(string item)
    {
        var parts = item.Split('x', 'X');
        int width = ParseInt(parts[0]), depth = parts.Length == 2 ? ParseInt(parts[1]) : parts.Length == 1 ? 1 : -1;
        if (width < 1 || depth < 1 || depth > 10)
            throw new ArgumentException($"'{item}' is not WIDTHxDEPTH with a positive width and a depth of 1..10 (e.g. 200x2)");
        return Enumerable.Repeat(width, depth).ToArray();

        static int ParseInt(string s) => int.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : -1;
    }
}
