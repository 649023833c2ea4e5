using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Datasets;

/// <summary>Which examples of a data set: its test split, its training split, or all of them.</summary>
public enum DataSplit
{
    /// <summary>The test split (the held-out share for data without one).</summary>
    Test,
    /// <summary>The training split.</summary>
    Train,
    /// <summary>Every example: the training split, then the test split.</summary>
    All,
}

/// <summary>
/// Where <c>--data</c> points, resolved in one place into a training and a test split:
/// <list type="number">
/// <item>nothing, or its name <see cref="Mnist.SubsetName"/>: the embedded MNIST subset;</item>
/// <item>a file, by its extension: .npy, .npz, .csv, .amat or .mat;</item>
/// <item>a folder: the four MNIST IDX files, or a fetched data set's files (<see cref="DataSets"/>);</item>
/// <item>the name of a known data set ("mnist", "omniglot", ...) in the data directory;</item>
/// </list>
/// else one line saying what was not found and how to fetch a known set. Data with a test split of their own keep
/// it; the others hold out <c>testFraction</c> of their examples by a seeded shuffle (the same split every time).
/// Values: bytes become byte / 255, booleans 0 or 1, numbers stay as they are.
/// </summary>
public static partial class DataSource
{
    /// <summary>Share of the examples held out for testing when the data bring no test split.</summary>
    public const double DefaultTestFraction = 0.1;

    /// <summary>Seed of the held-out split: the same examples are held out on every run.</summary>
    public const ulong SplitSeed = 0x5E5E7;

    /// <summary><paramref name="testFraction"/> when it lies strictly between 0 and 1; else <see cref="SettingException"/> naming test_fraction.</summary>
    public static double CheckTestFraction(double testFraction)
        => testFraction > 0 && testFraction < 1 ? testFraction
           : throw new SettingException("test_fraction", $"must lie strictly between 0 and 1, got {testFraction}");

    /// <summary>
    /// The training and test splits of <paramref name="spec"/> (see the class summary); <paramref name="dataDirectory"/>
    /// is where named sets are looked up (default: <see cref="DataSets.DefaultDirectory()"/>).
    /// </summary>
    /// <exception cref="DataFormatException">Nothing found, or a file that does not read (one line naming it).</exception>
    public static (Dataset Train, Dataset Test) Load(string? spec, double testFraction = DefaultTestFraction, string? dataDirectory = null)
    {
        CheckTestFraction(testFraction);
        if (spec is null) return Mnist.Load(Mnist.DefaultFolder());
        if (File.Exists(spec)) return LoadFile(spec, testFraction);
        if (Directory.Exists(spec)) return LoadFolder(spec, testFraction);
        if (IsSubsetName(spec)) return Mnist.Load(Mnist.DefaultFolder());
        if (DataSets.TryGet(spec, out var known))
        {
            string dir = dataDirectory ?? DataSets.DefaultDirectory();
            string folder = DataSets.Folder(known, dir);
            if (!DataSets.IsPresent(known, dir))
                throw DataFormatException.At(spec, $"the {known.Name} data set is not in {folder}; fetch it with `iwae data fetch {known.Name}`");
            return LoadSet(known, folder, testFraction);
        }
        throw DataFormatException.At(spec,
            $"no such file or folder, and not a known data set ({string.Join(", ", [Mnist.SubsetName, .. DataSets.Known.Select(d => d.Name)])}; fetch one with `iwae data fetch NAME`)");
    }

    /// <summary>Whether <paramref name="spec"/> names the embedded subset (<see cref="Mnist.SubsetName"/>, any case).</summary>
    private static bool IsSubsetName(string spec) => string.Equals(spec, Mnist.SubsetName, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// What <paramref name="spec"/> names, resolved as <see cref="Load"/> resolves it, in a form that finds the same data
    /// from any folder: the embedded subset (null or its name), a file or folder (its full path, whether it exists or
    /// not), or a known set (its name, looked up in the data directory of whoever reads it).
    /// </summary>
    public static (DataKind Kind, string Location) Resolve(string? spec)
    {
        if (spec is null) return (DataKind.Embedded, "");
        if (File.Exists(spec) || Directory.Exists(spec)) return (DataKind.Path, Path.GetFullPath(spec));
        if (IsSubsetName(spec)) return (DataKind.Embedded, "");
        if (DataSets.TryGet(spec, out var known)) return (DataKind.Named, known.Name);
        return (DataKind.Path, Path.GetFullPath(spec));
    }

    /// <summary>
    /// Holds out <paramref name="testFraction"/> of <paramref name="all"/>'s examples (at least one, and at least one
    /// left to train on), chosen by a shuffle seeded with <paramref name="seed"/>; both splits keep the examples' order.
    /// </summary>
    public static (Dataset Train, Dataset Test) Split(Dataset all, double testFraction, ulong seed = SplitSeed)
    {
        if (all.Count < 2) throw DataFormatException.At(all.Source, $"{all.Count} example{(all.Count == 1 ? "" : "s")}: too few to hold some out for testing");
        int test = Math.Clamp((int)Math.Round(all.Count * testFraction), 1, all.Count - 1);
        var order = Enumerable.Range(0, all.Count).ToArray();
        new Rng(seed).Shuffle(order);
        var held = order[..test];
        Array.Sort(held);
        var kept = order[test..];
        Array.Sort(kept);
        return (all.Select(kept), all.Select(held));
    }

    /// <summary>A folder: the files of one of the <see cref="DataSets"/> (the four MNIST IDX files among them).</summary>
    private static (Dataset Train, Dataset Test) LoadFolder(string folder, double testFraction)
    {
        foreach (var set in DataSets.Known)
            if (set.Files.All(f => File.Exists(Path.Combine(folder, f.Name)))) return LoadSet(set, folder, testFraction);
        return Mnist.Load(folder);      // which names the IDX file it misses, plain or .gz
    }

    /// <summary>
    /// A data set's files in <paramref name="folder"/>: one file that holds both splits (Omniglot's chardata.mat), one
    /// file per split (binarized MNIST's .amat files; its validation split is not used), or MNIST's IDX files.
    /// </summary>
    private static (Dataset Train, Dataset Test) LoadSet(DataSetDefinition set, string folder, double testFraction)
    {
        var train = set.Split("train").Files;
        var test = set.Split("test").Files;
        if (train.Count == 1 && test.Count == 1)
        {
            string trainPath = Path.Combine(folder, train[0]), testPath = Path.Combine(folder, test[0]);
            if (trainPath == testPath) return LoadFile(trainPath, testFraction);
            if (Path.GetExtension(trainPath) != ".gz")
            {
                var a = Single(trainPath);
                var b = Single(testPath);
                if (a.PixelsPerImage != b.PixelsPerImage)
                    throw DataFormatException.At(testPath, $"{b.PixelsPerImage} values per example, the training examples ({trainPath}) have {a.PixelsPerImage}");
                return (a, b);
            }
        }
        return Mnist.Load(folder);
    }

    /// <summary>A file of one split's examples (.npy, .csv, .amat), images when their width is a square.</summary>
    private static Dataset Single(string path)
    {
        var array = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".npy" => NpyReader.Read(path),
            ".csv" => CsvReader.Read(path),
            ".amat" => AmatReader.Read(path),
            _ => throw DataFormatException.At(path, "not a file of one split this reads (.npy, .csv, .amat)"),
        };
        CheckExamples(array, path, columnsAreExamples: false);
        return FromArray(array, path, SquareSide(array.Cols));
    }
}
