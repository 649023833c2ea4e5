using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Text;
using Iwae.Autodiff;
using Iwae.Cli.Commands;
using Iwae.Cli;

namespace Iwae.Tests.Cli;

/// <summary>
/// Every command of the tree, driven with random values for its options: out-of-range and huge integers, odd numbers,
/// empty and odd strings, and paths that are folders, files, missing, unwritable or one of the command's inputs. Whatever
/// it gets, a command exits 0 or 2 (never 1), prints at most two lines on stderr and no stack trace, leaves nothing in a
/// fresh --out when it fails, and changes no input file. The commands come from <see cref="IwaeCommand.Build"/>, so a new
/// command or option is driven too; each base command line below keeps a run tiny (a 6-value data set, one epoch).
/// </summary>
[NonParallelizable]
public partial class CliPropertyTests
{
    /// <summary>Command lines tried per command; set IWAE_PROPERTY_RUNS for a longer search, IWAE_PROPERTY_SEED for another one.</summary>
    private static readonly int Tries = int.TryParse(Environment.GetEnvironmentVariable("IWAE_PROPERTY_RUNS"), out int n) ? n : 40;
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("IWAE_PROPERTY_SEED"), out int s) ? s : 2412;

    /// <summary>
    /// A single command line may take this long (a tiny run takes about a second); a valid line that asks for more work
    /// (65536 epochs, say) is then interrupted, as by Ctrl+C, and must stop with exit 130.
    /// </summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static string _root = "";
    private static string Fixture => Path.Combine(_root, "fixture");
    private static string DataCsv => Path.Combine(Fixture, "tiny.csv");
    private static string RunDir => Path.Combine(Fixture, "run");
    private static string Checkpoint => Path.Combine(RunDir, "iwae.safetensors");
    private static string Torch => Path.Combine(Fixture, "torch.safetensors");
    private static string SweepDir => Path.Combine(Fixture, "sweep");
    private static string Text => Path.Combine(Fixture, "notes.txt");
    private static string EmptyDir => Path.Combine(Fixture, "empty");

    /// <summary>
    /// The files no command may change: the data and the fixture run's checkpoint always (another run's files), the
    /// state_dict and the text file whenever a command line gives them to an option that reads (an output option may
    /// replace an existing file that is none of its inputs, as any tool does).
    /// </summary>
    private static string[] Inputs => [DataCsv, Checkpoint, Torch, Text];

    private static readonly HashSet<string> OutputOptions = ["--out", "--test-data-out"];

    private static IEnumerable<string> ProtectedBy(List<string> args) =>
        Inputs.Where(f => f == DataCsv || f == Checkpoint || args.Select((a, i) => (a, i)).Any(x => x.a == f && (x.i == 0 || !OutputOptions.Contains(args[x.i - 1]))));

    private static Dictionary<string, string> _hashes = [];

    [OneTimeSetUp]
    public void Make()
    {
        _root = Path.Combine(Path.GetTempPath(), "iwae-prop-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(EmptyDir);
        var rng = new Rng(7);
        var csv = new StringBuilder("a,b,c,d,e,f\n");
        for (int i = 0; i < 40; i++)
            csv.AppendLine(string.Join(",", Enumerable.Range(0, 6).Select(_ => rng.NextDouble().ToString("F3", CultureInfo.InvariantCulture))));
        File.WriteAllText(DataCsv, csv.ToString());
        File.WriteAllText(Text, "not a checkpoint\n");
        Must("train", "--data", DataCsv, "--epochs", "1", "--hidden", "4", "--latent", "2", "--eval-k", "2", "--out", RunDir, "--threads", "1");
        Must("export", "--checkpoint", Checkpoint, "--out", Torch);
        Must("sweep", "plan", "--out", SweepDir, "--data", DataCsv, "--epochs", "1", "--hidden", "4", "--latent", "2", "--eval-k", "2", "--grid", "k=1,2", "--no-estimate");
        _hashes = Inputs.ToDictionary(f => f, Hash);
        Copy(Fixture, Pristine);
    }

    private static string Pristine => Path.Combine(_root, "pristine");

    /// <summary>Puts the fixture back as it was made, after a command line changed it (a failure, reported; the search goes on).</summary>
    private static void Restore()
    {
        Directory.Delete(Fixture, recursive: true);
        Copy(Pristine, Fixture);
    }

    [OneTimeTearDown]
    public void Remove()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static void Must(params string[] args)
    {
        var (code, o, e) = CliRun.Run(args);
        Assert.That(code, Is.EqualTo(0), $"fixture: iwae {string.Join(" ", args)}\n{o}\n{e}");
    }

    private static string Hash(string file) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));

    /// <summary>Every leaf command ("train", "sweep run", ...), by its path of names.</summary>
    public static IEnumerable<string> Commands()
    {
        static IEnumerable<(string Path, Command Command)> Leaves(Command c, string path) =>
            c.Subcommands.Count == 0 ? [(path, c)] : c.Subcommands.SelectMany(s => Leaves(s, (path + " " + s.Name).Trim()));
        return Leaves(Tree(), "").Select(l => l.Path);
    }

    private static RootCommand Tree() => IwaeCommand.Build(new CliIo(TextWriter.Null, TextWriter.Null, CancellationToken.None));

    private static Command Find(string path) => path.Split(' ').Aggregate((Command)Tree(), (c, name) => c.Subcommands.Single(s => s.Name == name));

    /// <summary>
    /// The command line a command starts from, valid and quick: a fresh --out ({out}), the tiny data, the fixture checkpoint.
    /// A command missing here fails the test, so a new command gets a base line.
    /// </summary>
    private static string[] Base(string command) => command switch
    {
        "compare" or "train" => [command, "--data", DataCsv, "--epochs", "1", "--hidden", "4", "--latent", "2", "--eval-k", "2", "--threads", "1", "--out", "{out}"],
        "eval" => ["eval", "--checkpoint", Checkpoint, "--eval-k", "2", "--threads", "1"],
        "plot" => ["plot", "--run", "{copy-of-run}"],
        "sample" => ["sample", "--checkpoint", Checkpoint, "--n", "2", "--proposals", "3", "--images", "2", "--out", "{out}"],
        "snr" => ["snr", "--toy", "--ks", "1,2", "--draws", "3", "--images", "1", "--threads", "1", "--out", "{out}"],
        "score" => ["score", "--checkpoint", Checkpoint, "--eval-k", "2", "--threads", "1", "--out", "{out}/s.csv"],
        "export" => ["export", "--checkpoint", Checkpoint, "--out", "{out}/m.safetensors"],
        "import" => ["import", "--from", Torch, "--out", "{out}/m.safetensors"],
        "data list" => ["data", "list", "--dir", "{out}"],
        // An address on the loopback where nothing listens: a fetch fails at once, never reaching the internet.
        "data fetch" => ["data", "fetch", "mnist", "--dir", "{out}", "--mirror", "http://127.0.0.1:9/"],
        "sweep plan" => ["sweep", "plan", "--out", "{out}", "--data", DataCsv, "--epochs", "1", "--hidden", "4", "--latent", "2", "--eval-k", "2", "--grid", "k=1,2", "--no-estimate"],
        "sweep run" => ["sweep", "run", "{copy-of-sweep}", "--task", "0", "--threads", "1"],
        "sweep status" => ["sweep", "status", "{copy-of-sweep}"],
        "sweep collect" => ["sweep", "collect", "{copy-of-sweep}"],
        "sweep slurm" => ["sweep", "slurm", "{copy-of-sweep}"],
        "sweep k8s" => ["sweep", "k8s", "{copy-of-sweep}", "--image", "iwae:1", "--claim", "sweeps"],
        _ => throw new AssertionException($"CliPropertyTests has no base command line for `iwae {command}`: add one"),
    };

    /// <summary>Options a command line may not vary: the loopback mirror keeps `data fetch` off the internet.</summary>
    private static readonly HashSet<string> Fixed = ["--mirror", "--help"];

    [TestCaseSource(nameof(Commands))]
    public void AnyCommandLine_ExitsZeroOrTwo_OneOrTwoLines_NothingLeft_NoInputChanged(string command)
    {
        var cmd = Find(command);
        var rng = new Random(Seed + command.Sum(c => c));   // string hashes vary between runs; a sum of the characters does not
        var varied = cmd.Options.Where(o => !Fixed.Contains(o.Name)).ToArray();
        var failures = new List<string>();
        var codes = new SortedDictionary<int, int>();
        string cwd = Environment.CurrentDirectory;
        for (int i = 0; i < Tries; i++)
        {
            string sandbox = Path.Combine(_root, $"{command.Replace(' ', '-')}-{i}");
            Directory.CreateDirectory(sandbox);
            string fresh = Path.Combine(sandbox, "out");
            var args = Base(command).Select(a => Fill(a, sandbox, fresh)).ToList();
            int changes = rng.Next(3) == 0 ? 2 : 1;
            for (int c = 0; c < changes; c++)
            {
                if (cmd.Arguments.Count > 0 && (varied.Length == 0 || rng.Next(4) == 0)) { ReplacePositional(args, command, cmd, rng, sandbox); continue; }
                var option = varied[rng.Next(varied.Length)];
                Set(args, option, Value(option, rng, sandbox, fresh));
            }
            string line = "iwae " + string.Join(" ", args.Select(a => a.Contains(' ') || a.Length == 0 ? $"'{a}'" : a));
            int code; string err;
            using var timeout = new CancellationTokenSource(Patience);
            try
            {
                Environment.CurrentDirectory = sandbox;     // a command without --out writes runs/<time> here
                (code, _, err) = CliRun.Run([.. args], timeout.Token);
            }
            finally
            {
                Environment.CurrentDirectory = cwd;
            }
            codes[code] = codes.GetValueOrDefault(code) + 1;
            TestContext.Out.WriteLine($"{code}: {line}  | {err.TrimEnd()}");
            var problems = Check(code, err, fresh, sandbox, timeout.IsCancellationRequested);
            if (problems.Count > 0) failures.Add($"{line}\n    exit {code}, stderr: {err.TrimEnd().ReplaceLineEndings("\n      ")}\n    {string.Join("; ", problems)}");
            foreach (var input in Inputs.Where(f => !File.Exists(f) || Hash(f) != _hashes[f]).ToList())
            {
                if (ProtectedBy(args).Contains(input)) failures.Add($"{line}\n    exit {code}: changed the input {input}");
                Restore();
            }
        }
        TestContext.Out.WriteLine($"exit codes: {string.Join(", ", codes.Select(kv => $"{kv.Key} x{kv.Value}"))}");
        Assert.That(failures, Is.Empty, $"{failures.Count} of {Tries} command lines broke the promise:\n" + string.Join("\n", failures));
    }

    private static List<string> Check(int code, string err, string fresh, string sandbox, bool timedOut)
    {
        var problems = new List<string>();
        if (timedOut)
        {
            // Long but valid: interrupted, it must stop as Ctrl+C stops it, its checkpoint kept.
            if (code is not (0 or IwaeCommand.Interrupted)) problems.Add($"interrupted after {Patience.TotalSeconds} s, it exited {code}, not 130");
            return problems;
        }
        if (code is not (0 or IwaeCommand.BadInput)) problems.Add($"exit code {code}, not 0 or 2");
        var lines = err.TrimEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length > 2) problems.Add($"{lines.Length} lines on stderr");
        if (code != 0 && lines.Length == 0) problems.Add("failed without a word on stderr");
        if (err.Contains("   at ", StringComparison.Ordinal) || ExceptionName().IsMatch(err)) problems.Add("a stack trace or an exception's name on stderr");
        if (code != 0 && Directory.Exists(fresh) && Directory.EnumerateFileSystemEntries(fresh, "*", SearchOption.AllDirectories).Any())
            problems.Add($"left {string.Join(", ", Directory.EnumerateFiles(fresh, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(sandbox, f)))} in a fresh --out");
        if (code != 0 && Directory.Exists(Path.Combine(sandbox, "runs"))) problems.Add("left a runs/ folder behind");
        if (code != 0 && Directory.EnumerateFiles(sandbox, "*.tmp*", SearchOption.AllDirectories).Concat(Directory.EnumerateFiles(sandbox, "*.part", SearchOption.AllDirectories)).FirstOrDefault() is { } temp)
            problems.Add($"left the temporary file {Path.GetRelativePath(sandbox, temp)}");
        return problems;
    }

    [GeneratedRegex(@"\b[A-Z]\w*Exception\b|System\.\w+")]
    private static partial Regex ExceptionName();

    /// <summary>Fills a base argument's placeholders; "{copy-of-run}" copies the fixture run folder into the sandbox first.</summary>
    private static string Fill(string arg, string sandbox, string fresh)
    {
        if (arg == "{copy-of-run}") return Copy(RunDir, Path.Combine(sandbox, "run"));
        if (arg == "{copy-of-sweep}") return Copy(SweepDir, Path.Combine(sandbox, "sweep"));
        return arg.Replace("{out}", fresh, StringComparison.Ordinal);
    }

    private static string Copy(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(dir.Replace(from, to, StringComparison.Ordinal));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
        return to;
    }

    private static void Set(List<string> args, Option option, string? value)
    {
        int at = args.FindIndex(a => a == option.Name || option.Aliases.Contains(a));
        bool flag = option.ValueType == typeof(bool);
        if (at >= 0)
        {
            if (flag) { args.RemoveAt(at); if (value is not null && value != "true") args.Insert(at, option.Name); return; }
            args[at + 1] = value ?? "";
            return;
        }
        args.Add(option.Name);
        if (!flag || value is not ("true" or null)) args.Add(value ?? "");
    }

    private static void ReplacePositional(List<string> args, string command, Command cmd, Random rng, string sandbox)
    {
        // The positional argument sits right after the command's names.
        int at = command.Split(' ').Length;
        if (at < args.Count) args[at] = Pick(rng, Paths(sandbox, Path.Combine(sandbox, "out")).Concat(Strings).Concat(["mnist", "omniglot", "nope"]).ToArray());
    }

    /// <summary>
    /// A random value for <paramref name="option"/>, by its type and, for strings, by what its name says it holds. Most values
    /// parse (so the command's own checks are reached); one in six is garbage for the parser.
    /// </summary>
    private static string? Value(Option option, Random rng, string sandbox, string fresh)
    {
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        bool garbage = rng.Next(6) == 0;
        if (type == typeof(bool)) return Pick(rng, ["true", "false", null, garbage ? "maybe" : null]);
        if (type == typeof(int) || type == typeof(long))
            return garbage ? Pick(rng, ["99999999999", "", "abc", "1e3", "2.5", "--"]) : Pick(rng, ["-1", "0", "1", "2", "3", "7", "-2147483648", "2147483647", "65536"]);
        if (type == typeof(ulong))
            return garbage ? Pick(rng, ["-1", "18446744073709551616", "", "x"]) : Pick(rng, ["0", "1", "18446744073709551615"]);
        if (type == typeof(double))
            return garbage ? Pick(rng, ["", "abc", "1,5"]) : Pick(rng, ["NaN", "Infinity", "-Infinity", "-1", "0", "1", "0.5", "0.999999", "1e308", "1e-320"]);
        bool pathLike = option.Name is "--out" or "--checkpoint" or "--from" or "--data" or "--run" or "--dir" or "--resume" or "--test-data-out" or "--sweep";
        return pathLike && !garbage ? Pick(rng, Paths(sandbox, fresh)) : Pick(rng, Lists.Concat(Strings).Concat(garbage ? Paths(sandbox, fresh) : []).ToArray());
    }

    /// <summary>Paths of every kind: fresh, missing, a folder, a text file, the inputs, unwritable (below a file), special files.</summary>
    private static string[] Paths(string sandbox, string fresh) =>
    [
        fresh, Path.Combine(fresh, "a", "b.safetensors"), Path.Combine(sandbox, "missing.safetensors"), Path.Combine(sandbox, "missing-dir"),
        EmptyDir, Text, Path.Combine(Text, "below-a-file"), Checkpoint, Torch, DataCsv, RunDir, "/dev/null", "/proc/version", "/",
        Path.Combine(fresh, "x.pt"), Path.Combine(fresh, "x.csv"), Path.Combine(fresh, "x.npy"),
    ];

    private static readonly string[] Strings = ["", " ", "-", "--", "..", "ü∂ß漢字", "a\tb", new string('x', 5000), "\"quoted\"", "%s%n{0}"];

    private static readonly string[] Lists = ["1,2", "0", "-3", ",", "1,,2", "2147483647", "iwae,dreg", "vae", "k=1,2", "k=0", "model=vae;k=99999999999", "hidden=0x0",
                                               "100x1", "99999x99999", "bernoulli", "gaussian", "test", "train", "all", "torch", "00:00:00", "99999:00:00", "1-00:00:00", "10Gi"];

    private static T Pick<T>(Random rng, T[] values) => values[rng.Next(values.Length)];
}
