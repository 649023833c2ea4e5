using System.CommandLine;
using System.Diagnostics;
using Iwae.Datasets;
using Spectre.Console;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>
/// `iwae data list [--dir DIR]` and `iwae data fetch NAME [--dir DIR] [--mirror URL]`: the named data sets of
/// <see cref="DataSets"/>, and <see cref="DataSets.Fetch(string, string, string?, Action{DownloadProgress}?, CancellationToken)"/>
/// with a progress bar on a terminal and plain lines otherwise.
/// </summary>
internal static class DataCommand
{
    /// <summary>Seconds between plain progress lines of one file.</summary>
    public const double PlainInterval = 10;

    public static Command Create(CliIo io)
    {
        var list = new Command("list", $"The data sets: the embedded subset ({Mnist.SubsetName}, always there) and the named sets, each with its size, source, licence and whether it is in the data directory.")
            .With(DataDir);
        list.SetAction(p => io.Guard(p, () =>
        {
            string dir = DataDirectory(p);
            io.Out.WriteLine($"data directory: {Path.GetFullPath(dir)}");
            var sets = DataSets.Known;
            int width = Math.Max(Mnist.SubsetName.Length, sets.Max(s => s.Name.Length));
            void Row(string name, string size, string present, string source)
                => io.Out.WriteLine($"{name.PadRight(width)}  {size,9}  {present,-13}  {source}");
            Row("name", "size", "present", "source");
            var (subsetSize, subsetPresent, subsetSource) = Subset();
            Row(Mnist.SubsetName, subsetSize, subsetPresent, subsetSource);
            io.Out.WriteLine($"{"",-2}{Mnist.SubsetDescription}; licence: {Mnist.SubsetLicence}");
            foreach (var set in sets)
            {
                Row(set.Name, set.TotalSize is long n ? Downloader.Bytes(n) : "size ?", Presence(set, dir), set.Source);
                io.Out.WriteLine($"{"",-2}{set.Description}; licence: {set.Licence}");
            }
            io.Out.WriteLine("fetch one with `iwae data fetch NAME`; train on one with `--data NAME`");
            return 0;
        }));

        var fetch = new Command("fetch", "Download a named data set into DIR/NAME: each file to NAME.part (an interrupted download resumes), checked against its published checksum, then renamed. Files already there are verified, not downloaded again.")
            .With(DataDir, Mirror);
        fetch.Arguments.Add(DataSetName);
        fetch.SetAction(p => io.Guard(p, () =>
        {
            string name = p.GetValue(DataSetName)!;
            if (string.Equals(name, Mnist.SubsetName, StringComparison.OrdinalIgnoreCase))
            {
                io.Out.WriteLine($"{Mnist.SubsetName} ships with iwae and is always there; nothing to fetch");
                return 0;
            }
            var set = DataSets.Get(name);
            string dir = DataDirectory(p);
            string? mirror = p.GetValue(Mirror) ?? DataSets.DefaultMirror();
            string folder = DataSets.Folder(set, dir);
            Downloader.SourceOf(set.Files[0], mirror); // a bad mirror is bad input, said before anything else
            string size = set.TotalSize is long n ? ", " + Downloader.Bytes(n) : "";
            io.Out.WriteLine($"{set.Name} ({set.Files.Count} file{(set.Files.Count == 1 ? "" : "s")}{size}) from {mirror ?? set.Source} into {folder}");
            var fetched = ProgressView.IsLiveTerminal(io.Out)
                ? FetchLive(set, dir, mirror, io.Cancel)
                : DataSets.Fetch(set, dir, mirror, new PlainDownloadProgress(io.Out).Report, io.Cancel);
            int nameWidth = fetched.Max(f => f.File.Name.Length);
            foreach (var f in fetched)
            {
                string what = f.Downloaded ? "downloaded" : "already there";
                io.Out.WriteLine($"  {f.File.Name.PadRight(nameWidth)}  {Downloader.Bytes(new FileInfo(f.Path).Length),9}  {what}, {Downloader.AlgorithmName(f.File.Algorithm)} verified");
            }
            io.Out.WriteLine($"{set.Name} is ready in {folder}");
            return 0;
        }, interrupted: "iwae: interrupted; the partial download is kept, run the same command again to resume it"));

        var cmd = new Command("data", "Named data sets (mnist, fashion-mnist, omniglot, binarized-mnist): list them, fetch them.");
        cmd.Subcommands.Add(list);
        cmd.Subcommands.Add(fetch);
        return cmd;
    }

    /// <summary>--dir, else the default data directory; either must be a folder (or able to become one).</summary>
    private static string DataDirectory(ParseResult p)
        => p.GetValue(DataDir) is string dir ? DataSets.CheckDirectory(dir, "--dir") : DataSets.CheckDirectory(DataSets.DefaultDirectory());

    /// <summary>The embedded subset's size, presence ("always"; "missing" in a broken install) and folder.</summary>
    private static (string Size, string Present, string Source) Subset()
    {
        try
        {
            string folder = Mnist.DefaultFolder();
            long bytes = new DirectoryInfo(folder).EnumerateFiles("*-ubyte*").Sum(f => f.Length);
            return (Downloader.Bytes(bytes), "always", "built in: " + folder);
        }
        catch (DataFormatException e)
        {
            return ("", "missing", e.Message);
        }
    }

    /// <summary>"yes", "no", "2 of 4 files"; with ", download to resume" if a .part is there.</summary>
    private static string Presence(DataSetDefinition set, string dir)
    {
        int here = DataSets.FilesPresent(set, dir);
        string folder = DataSets.Folder(set, dir);
        bool part = set.Files.Any(f => File.Exists(Path.Combine(folder, f.Name + Downloader.PartSuffix)));
        string state = here == set.Files.Count ? "yes" : here == 0 ? "no" : $"{here} of {set.Files.Count} files";
        return part ? state + ", .part" : state;
    }

    private static IReadOnlyList<FetchedFile> FetchLive(DataSetDefinition set, string dir, string? mirror, CancellationToken cancel)
        => AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                     new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                return DataSets.Fetch(set, dir, mirror, p =>
                {
                    if (!tasks.TryGetValue(p.File, out var task))
                    {
                        task = tasks[p.File] = ctx.AddTask(Markup.Escape(p.File), maxValue: Math.Max(1, p.Total ?? 1));
                        task.IsIndeterminate = p.Total is null;
                    }
                    if (p.Total is long total) task.MaxValue = Math.Max(1, total);
                    task.Value = p.Done;
                }, cancel);
            });
}

/// <summary>
/// Download progress as plain lines (CI, pipes, tests): one when a file starts (or resumes), then one every
/// <see cref="DataCommand.PlainInterval"/> seconds while it lasts.
/// </summary>
internal sealed class PlainDownloadProgress(TextWriter output, Func<double>? clock = null)
{
    private static readonly Stopwatch Process = Stopwatch.StartNew();
    private readonly Func<double> _clock = clock ?? (() => Process.Elapsed.TotalSeconds);
    private string? _file;
    private double _last;

    public void Report(DownloadProgress p)
    {
        double now = _clock();
        string of = p.Total is long t ? " of " + Downloader.Bytes(t) : "";
        if (p.File != _file)
        {
            _file = p.File;
            _last = now;
            output.WriteLine(p.ResumedFrom > 0
                ? $"  {p.File}: resuming at {Downloader.Bytes(p.ResumedFrom)}{of} from {p.Source}"
                : $"  {p.File}: downloading{of} from {p.Source}");
            return;
        }
        if (now - _last < DataCommand.PlainInterval) return;
        _last = now;
        string percent = p.Total is long total && total > 0 ? $"{100.0 * p.Done / total:F0}%, " : "";
        output.WriteLine($"  {p.File}: {percent}{Downloader.Bytes(p.Done)}{of}");
    }
}
