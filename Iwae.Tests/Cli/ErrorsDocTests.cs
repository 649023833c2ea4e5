using System.CommandLine;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Text;
using Iwae.Autodiff;
using Iwae.Cli.Commands;
using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Core;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// docs/errors.md against the code: every exit code, every expected kind of exception, every size limit and every
/// refused input has its row, and each row's example runs and gives its exit code and the start of its message. A new
/// exit code, exception type or limit without a row fails here.
/// </summary>
[NonParallelizable]
public partial class ErrorsDocTests
{
    private static readonly string Doc = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "errors.md"));

    private static string RepoRoot() => TestUtil.RepoRoot();

    /// <summary>The rows of the table under the heading <paramref name="heading"/>, as cells.</summary>
    private static List<string[]> Table(string heading)
    {
        var lines = Doc.Split('\n').SkipWhile(l => l.Trim() != heading).Skip(1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).ToList();
        Assert.That(lines, Has.Count.GreaterThan(2), $"docs/errors.md has a table under '{heading}'");
        return lines.Skip(2).Select(l => l.Trim().Trim('|').Split(" | ").Select(c => c.Trim()).ToArray()).ToList();
    }

    private static string Unquote(string cell) => cell.Trim().Trim('`');

    [Test]
    public void EveryExitCode_HasARow_AndEveryRowIsAnExitCode()
    {
        var codes = typeof(IwaeCommand).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int)).Select(f => (int)f.GetRawConstantValue()!).Append(0).Order();
        var rows = Table("## Exit codes").Select(r => int.Parse(r[0], CultureInfo.InvariantCulture)).Order();
        Assert.That(rows, Is.EqualTo(codes));
    }

    [Test]
    public void EveryExpectedException_HasARowWithItsExitCode()
    {
        var rows = Table("## For library callers: exceptions").ToDictionary(r => Unquote(r[0]), r => int.Parse(r[1], CultureInfo.InvariantCulture));
        foreach (var (type, code) in CliIo.ExpectedFailures)
            Assert.That(rows.GetValueOrDefault(type.Name), Is.EqualTo(code), $"{type.Name} -> exit {code}");
        Assert.That(rows.Keys, Is.EquivalentTo(CliIo.ExpectedFailures.Select(f => f.Exception.Name)));
    }

    /// <summary>The exception types the page names as a caller's mistake or a bug.</summary>
    private static string[] InternalTypes()
    {
        string paragraph = Doc[Doc.IndexOf("Thrown only for a caller's mistake or a bug", StringComparison.Ordinal)..];
        return QuotedName().Matches(paragraph).Select(m => m.Groups[1].Value).ToArray();
    }

    [GeneratedRegex(@"`(\w+Exception)`")]
    private static partial Regex QuotedName();

    [GeneratedRegex(@"throw new (?:[\w.]+\.)?(\w+Exception)\b|\b(\w+Exception)\.(?:At|ThrowIf\w*)\(")]
    private static partial Regex Thrown();

    /// <summary>
    /// Every exception type the libraries and the command line throw is either an expected failure (a row with its exit
    /// code) or named as internal: a new error path with a new exception type needs a row.
    /// </summary>
    [Test]
    public void EveryExceptionTypeThrown_IsExpectedOrNamedInternal()
    {
        var types = AppDomain.CurrentDomain.GetAssemblies().SelectMany(a => { try { return a.GetTypes(); } catch (ReflectionTypeLoadException e) { return e.Types.OfType<Type>(); } })
            .Where(t => typeof(Exception).IsAssignableFrom(t)).GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.First());
        var internals = InternalTypes().Select(n => types[n]).ToArray();
        var files = new[] { "Iwae.Autodiff", "Iwae.Core", "Iwae.Cli" }.SelectMany(p => Directory.EnumerateFiles(Path.Combine(RepoRoot(), p), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        var thrown = files.SelectMany(f => Thrown().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetFileName(f), Name: m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value))).ToList();
        Assert.That(thrown, Has.Count.GreaterThan(100), "the scan finds the throws");
        foreach (var (file, name) in thrown.Distinct())
        {
            Assert.That(types.ContainsKey(name), $"{file} throws {name}, a type this test cannot find");
            var type = types[name];
            bool known = CliIo.ExpectedFailures.Any(f => f.Exception.IsAssignableFrom(type)) || internals.Any(i => i.IsAssignableFrom(type));
            Assert.That(known, $"{file} throws {name}: give it a row in docs/errors.md (an expected failure in CliIo.ExpectedFailures, or an internal one)");
        }
    }

    [Test]
    public void EveryLimit_HasARowWithItsRange()
    {
        var rows = Table("## Limits").ToDictionary(r => Unquote(r[0]), r => r[1]);
        var limits = typeof(Limits).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.FieldType == typeof(SizeLimit)).Select(f => (SizeLimit)f.GetValue(null)!).ToList();
        Assert.That(limits, Has.Count.GreaterThan(10));
        foreach (var limit in limits) Assert.That(rows.GetValueOrDefault(limit.Field), Is.EqualTo(limit.Range), limit.Field);
        Assert.That(rows.Keys, Is.EquivalentTo(limits.Select(l => l.Field)));
        Assert.That(Limits.MaxTensorValues, Is.EqualTo(1L << 28));
        Assert.That(Doc, Does.Contain("2^28 values"));
    }

    // ---- the table of refusals: each example run against files made here ----

    private static string _root = "";
    private static readonly Dictionary<string, string> Files = [];
    private static SweepLock? _lock;

    [OneTimeSetUp]
    public void Make()
    {
        _root = Path.Combine(Path.GetTempPath(), "iwae-errors-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_root);
        string F(string name) => Path.Combine(_root, name);
        var rng = new Rng(3);
        string Rows(int n) => string.Concat(Enumerable.Range(0, n).Select(_ =>
            string.Join(",", Enumerable.Range(0, 6).Select(_ => rng.NextDouble().ToString("F3", CultureInfo.InvariantCulture))) + "\n"));
        File.WriteAllText(Files["tiny"] = F("tiny.csv"), "a,b,c,d,e,f\n" + Rows(40));
        File.WriteAllText(Files["outside01"] = F("outside01.csv"), "a,b,c,d,e,f\n" + Rows(39) + "0.1,0.2,1.5,0.2,0.1,0.1\n");
        File.WriteAllText(Files["text"] = F("notes.txt"), "not a checkpoint\n");
        Files["missing"] = F("missing.safetensors");
        Files["mnist"] = Mnist.DefaultFolder();
        WriteNpy1D(Files["onedim"] = F("onedim.npy"), 30);
        DataFormatsCliTests.WriteNpy(Files["huge"] = F("huge.npy"), Enumerable.Range(0, 200 * 16).Select(i => 1e18f * (i % 7 + 1)).ToArray(), 200, 16);

        string[] tiny = ["--epochs", "1", "--hidden", "4", "--latent", "2", "--eval-k", "2", "--threads", "1"];
        Must(["train", "--data", Files["tiny"], .. tiny, "--out", Files["run"] = F("run")]);
        Files["ckpt"] = Path.Combine(Files["run"], "iwae.safetensors");
        Must(["export", "--checkpoint", Files["ckpt"], "--out", Files["torch"] = F("torch.safetensors")]);
        File.Copy(Files["tiny"], Files["changed"] = F("changed.csv"));
        Must(["train", "--data", Files["changed"], .. tiny, "--out", F("changed-run")]);
        Files["changedckpt"] = Path.Combine(F("changed-run"), "iwae.safetensors");
        File.AppendAllText(Files["changed"], "0.5,0.5,0.5,0.5,0.5,0.5\n");
        Must(["train", "--data", Files["tiny"], .. tiny, "--out", Files["locked"] = F("locked")]);
        _lock = SweepLock.Acquire(Files["locked"]);

        var saved = SafeTensors.Read(Files["ckpt"]);
        SafeTensors.Write(Files["nanckpt"] = F("nan.safetensors"), saved.Metadata, saved.Entries.Select(e =>
            e.Name == "encoder.mu.b" ? SafeTensorEntry.FromF32(e.Name, e.Shape, [.. e.ToF32().Select((v, i) => i == 0 ? float.NaN : v)]) : e));

        Must(["sweep", "plan", "--out", Files["badsweep"] = F("badsweep"), "--data", Files["tiny"], .. tiny, "--grid", "k=1,2", "--no-estimate"]);
        string plan = Path.Combine(Files["badsweep"], "sweep.json");
        var json = JsonNode.Parse(File.ReadAllText(plan))!;
        json["runs"]![0]!["options"]!["eval_k"] = 0;
        File.WriteAllText(plan, json.ToJsonString());
    }

    [OneTimeTearDown]
    public void Remove()
    {
        _lock?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static void Must(string[] args)
    {
        var (code, o, e) = Run(args);
        Assert.That(code, Is.Zero, $"fixture: iwae {string.Join(" ", args)}\n{o}{e}");
    }

    private static void WriteNpy1D(string path, int n)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({n},), }}";
        header += new string(' ', 63 - (10 + header.Length) % 64) + "\n";
        using var w = new BinaryWriter(File.Create(path));
        w.Write((byte)0x93);
        w.Write("NUMPY"u8);
        w.Write((byte)1);
        w.Write((byte)0);
        w.Write((ushort)header.Length);
        w.Write(Encoding.ASCII.GetBytes(header));
        for (int i = 0; i < n; i++) w.Write(i / (float)n);
    }

    public static IEnumerable<TestCaseData> Refusals() => Table("## What is refused").Select(r => new TestCaseData((object)r).SetName($"Refusal({r[0]})"));

    [TestCaseSource(nameof(Refusals))]
    public void EachRefusal_NamesATestThatExists_AndItsExampleGivesItsExitAndMessage(string[] row)
    {
        Assert.That(row, Has.Length.EqualTo(5), "kind | example | exit | stderr starts with | covered by");
        string covered = Unquote(row[4]);
        var (typeName, method) = (covered[..covered.LastIndexOf('.')], covered[(covered.LastIndexOf('.') + 1)..]);
        var type = typeof(ErrorsDocTests).Assembly.GetTypes().SingleOrDefault(t => t.Name == typeName);
        Assert.That(type?.GetMethod(method), Is.Not.Null, $"the test {covered} exists");

        if (!row[1].StartsWith('`')) return;     // a kind without a runnable example (a signal, a bug)
        int exit = int.Parse(row[2], CultureInfo.InvariantCulture);
        string fresh = Path.Combine(_root, "out-" + Guid.NewGuid().ToString("N")[..8]);
        string Fill(string s) => Placeholder().Replace(s, m => m.Groups[1].Value == "out" ? fresh
            : Files.TryGetValue(m.Groups[1].Value, out var f) ? f : throw new AssertionException($"no file for {m.Value}"));
        var args = Unquote(row[1]).Split(' ').Skip(1).Select(Fill).ToArray();
        var (code, _, err) = Run(args);
        Assert.That(code, Is.EqualTo(exit), err);
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        // "..." in the expected start stands for any text.
        int at = 0;
        foreach (var part in Fill(Unquote(row[3])).Split("..."))
        {
            int found = err.IndexOf(part, at, StringComparison.Ordinal);
            Assert.That(found, at == 0 ? Is.Zero : Is.GreaterThanOrEqualTo(at), $"stderr '{err.TrimEnd()}' goes on with '{part}'");
            at = found + part.Length;
        }
        Assert.That(Directory.Exists(fresh) && exit == IwaeCommand.BadInput, Is.False, "a refusal leaves nothing in --out");
    }

    [GeneratedRegex(@"\{(\w+)\}")]
    private static partial Regex Placeholder();

    [Test]
    public void AFigureThatCannotBeDrawn_Exits4_AndSaysHowToRedrawIt()
    {
        var err = new StringWriter();
        var io = new CliIo(TextWriter.Null, err, CancellationToken.None);
        int code = io.Guard(() => io.WriteFigures("runs/x", () => throw new InvalidOperationException("cannot create a 10x10 drawing surface")));
        Assert.That(code, Is.EqualTo(IwaeCommand.FiguresFailed));
        Assert.That(err.ToString(), Does.StartWith("iwae: figures and report not written (cannot create a 10x10 drawing surface); the results are in runs/x, retry with `iwae plot --run runs/x`"));

        // Bad input while drawing is bad input, and Ctrl+C an interruption, not a failed figure.
        Assert.That(io.Guard(() => io.WriteFigures("runs/x", () => throw new ArgumentException("--data: wrong"))), Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(io.Guard(() => io.WriteFigures("runs/x", () => throw new OperationCanceledException())), Is.EqualTo(IwaeCommand.Interrupted));
    }

    [Test]
    public void AnUnexpectedException_IsOneLine_Exit1()
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var root = IwaeCommand.Build(new CliIo(o, e, CancellationToken.None));
        var broken = new Command("broken");
        broken.SetAction(_ => new CliIo(o, e, CancellationToken.None).Guard(() => throw new InvalidOperationException("a bug")));
        root.Subcommands.Add(broken);
        int code = IwaeCommand.Run(root, ["broken"], o, e);
        Assert.That(code, Is.EqualTo(IwaeCommand.InternalError));
        Assert.That(e.ToString(), Does.StartWith("iwae: internal error (InvalidOperationException: a bug); this is a bug, please report it"));
        Assert.That(e.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(e.ToString(), Does.Not.Contain("   at "));
    }
}
