using System.Globalization;
using System.Text.Json;
using Iwae.Core.Analysis;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;

namespace Iwae.Experiments;

/// <summary>
/// A run folder, the one place that knows its file names and their schemas, for writing and for reading:
/// <list type="table">
/// <item><term>&lt;model&gt;.safetensors</term><description>the checkpoint of "vae" or "iwae" (<see cref="RunCheckpoint"/>)</description></item>
/// <item><term>&lt;model&gt;-best.safetensors</term><description>with a validation split, the best epoch's weights (<see cref="RunCheckpoint.SaveBest"/>)</description></item>
/// <item><term>&lt;model&gt;-metrics.jsonl</term><description>one <see cref="EpochMetrics"/> per line</description></item>
/// <item><term>&lt;model&gt;-stages.jsonl</term><description>one <see cref="StageMetrics"/> per line</description></item>
/// <item><term>results.json</term><description><see cref="RunResults"/></description></item>
/// <item><term>snr.json</term><description><see cref="SnrReport"/> (<c>iwae snr</c>)</description></item>
/// <item><term>posterior-samples.json, prior-samples.json</term><description><c>iwae sample</c></description></item>
/// <item><term>*.png (<see cref="Figures"/>), report.html</term><description>figures and the report (<c>iwae plot</c>)</description></item>
/// </list>
/// Every file is JSON in the <see cref="IwaeJson"/> convention; whole files are written atomically.
/// </summary>
public sealed class RunFolder(string path)
{
    /// <summary>The results file.</summary>
    public const string ResultsFile = "results.json";

    /// <summary>The run's HTML report.</summary>
    public const string ReportFile = "report.html";

    /// <summary>The gradient SNR measurements of <c>iwae snr</c>.</summary>
    public const string SnrFile = "snr.json";

    /// <summary>The gradient SNR figure.</summary>
    public const string SnrFigureFile = "snr.png";

    /// <summary>Posterior draws of <c>iwae sample --posterior</c>.</summary>
    public const string PosteriorSamplesFile = "posterior-samples.json";

    /// <summary>Prior draws of <c>iwae sample</c>.</summary>
    public const string PriorSamplesFile = "prior-samples.json";

    /// <summary>The figures `iwae plot` draws into a run folder (the manifold only for a 2-D latent).</summary>
    public static class Figures
    {
        /// <summary>Training bound per epoch and test NLL per stage.</summary>
        public const string LearningCurves = "learning-curves.png";
        /// <summary>Encoder means of the test set.</summary>
        public const string Latent = "latent.png";
        /// <summary>Variance of each latent unit's encoder mean.</summary>
        public const string ActiveUnits = "active-units.png";
        /// <summary>Test digits and their reconstructions.</summary>
        public const string Reconstructions = "reconstructions.png";
        /// <summary>Decoded prior samples.</summary>
        public const string Samples = "samples.png";
        /// <summary>Decoded grid of a 2-D latent.</summary>
        public const string Manifold = "manifold.png";
    }

    /// <summary>Where runs go when no folder is named: runs/&lt;timestamp&gt; under the working directory.</summary>
    public static RunFolder Timestamped() => new(System.IO.Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));

    /// <summary>The folder.</summary>
    public string Path { get; } = path ?? throw new ArgumentNullException(nameof(path));

    /// <summary>Whether the folder exists.</summary>
    public bool Exists => Directory.Exists(Path);

    /// <summary>Creates the folder (and its parents) if needed; returns this.</summary>
    public RunFolder Create()
    {
        Directory.CreateDirectory(Path);
        return this;
    }

    /// <summary>
    /// Creates the folder (and its parents) if needed; <paramref name="created"/> receives the outermost folder this
    /// call created, or null when the folder was there already: what <see cref="RemoveIfEmpty"/> takes away again
    /// when the run fails before writing anything.
    /// </summary>
    public RunFolder Create(out string? created)
    {
        created = null;
        for (var dir = new DirectoryInfo(System.IO.Path.GetFullPath(Path)); dir is not null && !dir.Exists; dir = dir.Parent)
            created = dir.FullName;
        return Create();
    }

    /// <summary>
    /// Deletes <paramref name="created"/> (a folder <see cref="Create(out string?)"/> made) when no file lies anywhere in
    /// it, so a run that failed before its first checkpoint leaves no empty folder behind; anything else is left alone.
    /// </summary>
    public static void RemoveIfEmpty(string? created)
    {
        if (created is null || !Directory.Exists(created) || Directory.EnumerateFiles(created, "*", SearchOption.AllDirectories).Any()) return;
        Directory.Delete(created, recursive: true);
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when the folder already holds a run that training <paramref name="models"/>
    /// anew would overwrite: results.json, or a checkpoint or metrics of one of them. A new run goes into a new folder; an
    /// interrupted one is continued with `iwae train --resume`.
    /// </summary>
    public void CheckFresh(params ModelKind[] models)
    {
        var files = models.SelectMany(m => new[] { Checkpoint(m), BestCheckpoint(ModelName(m)), Metrics(ModelName(m)), Stages(ModelName(m)) }).Prepend(Results);
        if (files.FirstOrDefault(System.IO.File.Exists) is { } found)
            throw new ArgumentException($"--out {Path} already holds a run ({System.IO.Path.GetFileName(found)}), which a new run would overwrite; continue it with `iwae train --resume {Path}`, or give another folder");
    }

    /// <summary>The file <paramref name="name"/> in the folder (a figure, say).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>A model's name in file names: "vae" or "iwae".</summary>
    public static string ModelName(ModelKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>The checkpoint of <paramref name="model"/> ("vae" or "iwae").</summary>
    public string Checkpoint(string model) => File(model + ".safetensors");

    /// <summary>The checkpoint of a <paramref name="kind"/> model.</summary>
    public string Checkpoint(ModelKind kind) => Checkpoint(ModelName(kind));

    /// <summary>The best epoch's weights of <paramref name="model"/> ("vae" or "iwae"), written when it trains with a validation split.</summary>
    public string BestCheckpoint(string model) => File(model + "-best.safetensors");

    /// <summary>Per-epoch metrics of <paramref name="model"/>.</summary>
    public string Metrics(string model) => File($"{model}-metrics.jsonl");

    /// <summary>Per-stage test NLL of <paramref name="model"/>.</summary>
    public string Stages(string model) => File($"{model}-stages.jsonl");

    /// <summary>results.json.</summary>
    public string Results => File(ResultsFile);

    /// <summary>report.html.</summary>
    public string Report => File(ReportFile);

    /// <summary>
    /// The checkpoint to resume: that of <paramref name="kind"/>, or with none named the only one there.
    /// Throws <see cref="ArgumentException"/> (naming <c>--resume</c>) when the folder or the checkpoint is missing or ambiguous.
    /// </summary>
    public string FindCheckpoint(ModelKind? kind)
    {
        if (!Exists) throw new ArgumentException($"--resume: folder not found: {Path}");
        var kinds = kind is ModelKind k ? [k] : new[] { ModelKind.Iwae, ModelKind.Vae };
        var found = kinds.Select(Checkpoint).Where(System.IO.File.Exists).ToArray();
        return found.Length switch
        {
            1 => found[0],
            0 => throw new ArgumentException($"--resume: no {(kind is null ? "iwae.safetensors or vae.safetensors" : ModelName(kinds[0]) + ".safetensors")} in {Path}"),
            _ => throw new ArgumentException($"--resume: {Path} holds both iwae and vae checkpoints; name one with --model"),
        };
    }

    /// <summary>
    /// The checkpoint to continue (see <see cref="FindCheckpoint"/>), read once, checked to hold the model its file
    /// name says.
    /// </summary>
    public RunCheckpoint CheckpointToResume(ModelKind? kind)
    {
        string path = FindCheckpoint(kind);
        var checkpoint = RunCheckpoint.Read(path);
        string named = System.IO.Path.GetFileNameWithoutExtension(path);
        if (RunFolder.ModelName(checkpoint.Kind) != named)
            throw new CheckpointFormatException(path, $"holds a {ModelName(checkpoint.Kind)} model, not the requested {named}");
        return checkpoint;
    }

    /// <summary>The checkpoint the folder's results point to for <paramref name="result"/>: its own file first (the folder may have moved), else the recorded path.</summary>
    public string Checkpoint(ModelResult result)
    {
        string local = Checkpoint(result.Model);
        return System.IO.File.Exists(local) || result.Checkpoint is null ? local : result.Checkpoint;
    }

    /// <summary>Writes results.json atomically.</summary>
    public void WriteResults(RunResults results) => AtomicFile.WriteAllText(Results, results.ToJson());

    /// <summary>Reads results.json; <see cref="FileNotFoundException"/> or <see cref="InvalidDataException"/> naming the file.</summary>
    public RunResults ReadResults()
    {
        if (!System.IO.File.Exists(Results)) throw new FileNotFoundException($"{Results}: file not found (not a run folder of `iwae compare`?)");
        return RunResults.Parse(System.IO.File.ReadAllText(Results), Results);
    }

    /// <summary>Opens &lt;model&gt;-metrics.jsonl for writing, anew or (resuming) at its end.</summary>
    public JsonLinesWriter<EpochMetrics> WriteMetrics(string model, bool append) => new(Metrics(model), append);

    /// <summary>Opens &lt;model&gt;-stages.jsonl for writing, anew or (resuming) at its end.</summary>
    public JsonLinesWriter<StageMetrics> WriteStages(string model, bool append) => new(Stages(model), append);

    /// <summary>The epochs in &lt;model&gt;-metrics.jsonl (none when the file is missing).</summary>
    public IReadOnlyList<EpochMetrics> ReadMetrics(string model) => ReadLines<EpochMetrics>(Metrics(model));

    /// <summary>The stages in &lt;model&gt;-stages.jsonl (none when the file is missing).</summary>
    public IReadOnlyList<StageMetrics> ReadStages(string model) => ReadLines<StageMetrics>(Stages(model));

    /// <summary>Writes snr.json atomically; returns its path.</summary>
    public string WriteSnr(SnrReport report) => WriteJson(SnrFile, report);

    /// <summary>Reads snr.json.</summary>
    public SnrReport ReadSnr() => ReadJson<SnrReport>(SnrFile);

    /// <summary>Writes <paramref name="value"/> as the JSON file <paramref name="name"/>, atomically; returns its path.</summary>
    public string WriteJson<T>(string name, T value)
    {
        string file = File(name);
        AtomicFile.WriteAllText(file, IwaeJson.Serialize(value));
        return file;
    }

    /// <summary>Reads the JSON file <paramref name="name"/>; <see cref="InvalidDataException"/> naming it when it does not parse.</summary>
    public T ReadJson<T>(string name)
    {
        string file = File(name);
        if (!System.IO.File.Exists(file)) throw new FileNotFoundException($"{file}: file not found");
        try { return IwaeJson.Deserialize<T>(System.IO.File.ReadAllText(file)); }
        catch (JsonException e) { throw new InvalidDataException($"{file}: not a valid {name} ({e.Message.ReplaceLineEndings(" ")})"); }
    }

    private static List<T> ReadLines<T>(string file)
    {
        var list = new List<T>();
        if (!System.IO.File.Exists(file)) return list;
        int n = 0;
        foreach (var line in System.IO.File.ReadLines(file))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { list.Add(IwaeJson.Deserialize<T>(line)); }
            catch (JsonException e) { throw new InvalidDataException($"{file}:{n}: not a valid line ({e.Message.ReplaceLineEndings(" ")})"); }
        }
        return list;
    }
}

/// <summary>
/// A JSON lines file being written: one record per line, flushed at once so a crash loses nothing written. The file
/// is opened (anew, or at its end) by the first record, so a run that stops before its first epoch leaves none.
/// </summary>
public sealed class JsonLinesWriter<T> : IDisposable
{
    private readonly string _path;
    private readonly bool _append;
    private StreamWriter? _writer;

    internal JsonLinesWriter(string path, bool append) => (_path, _append) = (path, append);

    /// <summary>Appends <paramref name="record"/> as one line.</summary>
    public void Write(T record)
    {
        _writer ??= new StreamWriter(_path, _append);
        _writer.WriteLine(IwaeJson.Serialize(record));
        _writer.Flush();
    }

    /// <summary>Closes the file and deletes it when this writer made it anew: the lines of a run that leaves no checkpoint.</summary>
    public void Discard()
    {
        Dispose();
        if (_writer is not null && !_append) File.Delete(_path);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _writer?.Dispose();
}

/// <summary>snr.json: the gradient SNR measurements of <c>iwae snr</c> and what they were measured on.</summary>
/// <param name="Checkpoint">The checkpoint measured, or null for the toy.</param>
/// <param name="Toy">Whether it is Rainforth et al.'s linear Gaussian model.</param>
/// <param name="Architecture">The model's architecture.</param>
/// <param name="Images">Inputs in the minibatch.</param>
/// <param name="Draws">Gradient draws per point.</param>
/// <param name="Groups">M of miwae and piwae.</param>
/// <param name="Seed">Seed of the draws.</param>
/// <param name="Points">One per estimator and k.</param>
public sealed record SnrReport(string? Checkpoint, bool Toy, string Architecture, int Images, int Draws, int Groups, ulong Seed, IReadOnlyList<SnrPoint> Points);
