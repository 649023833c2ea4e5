namespace Iwae.Datasets;

/// <summary>
/// The named data sets (mnist, fashion-mnist, omniglot, binarized-mnist): the registry, the data directory, whether
/// a set is there, the paths of its files and <see cref="Fetch(string, string, string?, Action{DownloadProgress}?, CancellationToken)"/>.
/// A set lives in <c>&lt;dir&gt;/&lt;name&gt;/</c> under the file names upstream uses, so
/// <c>Mnist.Load(DataSets.Folder("mnist", dir))</c> reads a fetched MNIST as it is.
/// </summary>
public static class DataSets
{
    /// <summary>Environment variable that overrides <see cref="DefaultDirectory()"/>.</summary>
    public const string DirectoryVariable = "IWAE_DATA";

    /// <summary>Environment variable read by <see cref="DefaultMirror"/>: a URL with every file name directly under it.</summary>
    public const string MirrorVariable = "IWAE_DATA_MIRROR";

    // Every checksum below is copied from the source named beside it; none is computed here. Sizes likewise.

    private const string MnistBase = "https://ossci-datasets.s3.amazonaws.com/mnist/";

    // md5: pytorch/vision torchvision/datasets/mnist.py, MNIST.resources (torchvision downloads from this mirror,
    // ossci-datasets, and checks these md5s). Sizes: tensorflow/datasets tensorflow_datasets/url_checksums/mnist.txt
    // (the same four files of LeCun's, served from storage.googleapis.com/cvdf-datasets/mnist/).
    private const string TorchvisionMnist = "pytorch/vision torchvision/datasets/mnist.py (MNIST.resources); size: tensorflow/datasets tensorflow_datasets/url_checksums/mnist.txt";

    private static readonly DataSetDefinition MnistSet = new(
        "mnist",
        "MNIST handwritten digits, 28x28 grey levels: 60,000 training and 10,000 test images with labels (IDX, gzip)",
        "CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
        "http://yann.lecun.com/exdb/mnist/",
        [
            new("train-images-idx3-ubyte.gz", MnistBase + "train-images-idx3-ubyte.gz", 9912422, ChecksumAlgorithm.Md5, "f68b3c2dcbeaaa9fbdd348bbdeb94873", TorchvisionMnist),
            new("train-labels-idx1-ubyte.gz", MnistBase + "train-labels-idx1-ubyte.gz", 28881, ChecksumAlgorithm.Md5, "d53e105ee54ea40749a09fcbcd1e9432", TorchvisionMnist),
            new("t10k-images-idx3-ubyte.gz", MnistBase + "t10k-images-idx3-ubyte.gz", 1648877, ChecksumAlgorithm.Md5, "9fb629c4189551a2d022fa330f9573f3", TorchvisionMnist),
            new("t10k-labels-idx1-ubyte.gz", MnistBase + "t10k-labels-idx1-ubyte.gz", 4542, ChecksumAlgorithm.Md5, "ec29112dd5afa0611ce80d1b7f02629c", TorchvisionMnist),
        ],
        [
            new("train", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]),
            new("test", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
        ]);

    private const string FashionBase = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

    // sha256 and size: tensorflow/datasets tensorflow_datasets/url_checksums/fashion_mnist.txt, for these very URLs.
    // The md5s that pytorch/vision torchvision/datasets/mnist.py (FashionMNIST.resources) and the
    // zalandoresearch/fashion-mnist README publish for the same files are 8d4fb7e6c68d591d4c3dfef9ec88bf0d,
    // 25c81989df183df01b3e8a0aad5dffbe, bef4ecab320f06d8554ea6380940ec79 and bb300cfdad3c16e7a12a480ee83cd310
    // (train images, train labels, test images, test labels); we check the stronger hash.
    private const string TfdsFashion = "tensorflow/datasets tensorflow_datasets/url_checksums/fashion_mnist.txt";

    private static readonly DataSetDefinition FashionMnistSet = new(
        "fashion-mnist",
        "Fashion-MNIST (Xiao et al. 2017), Zalando article images, 28x28 grey levels: 60,000 training and 10,000 test images with labels (IDX, gzip)",
        "MIT (Zalando SE)",
        "https://github.com/zalandoresearch/fashion-mnist",
        [
            new("train-images-idx3-ubyte.gz", FashionBase + "train-images-idx3-ubyte.gz", 26421880, ChecksumAlgorithm.Sha256, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", TfdsFashion),
            new("train-labels-idx1-ubyte.gz", FashionBase + "train-labels-idx1-ubyte.gz", 29515, ChecksumAlgorithm.Sha256, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", TfdsFashion),
            new("t10k-images-idx3-ubyte.gz", FashionBase + "t10k-images-idx3-ubyte.gz", 4422102, ChecksumAlgorithm.Sha256, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", TfdsFashion),
            new("t10k-labels-idx1-ubyte.gz", FashionBase + "t10k-labels-idx1-ubyte.gz", 5148, ChecksumAlgorithm.Sha256, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", TfdsFashion),
        ],
        [
            new("train", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]),
            new("test", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
        ]);

    // Git blob id of datasets/OMNIGLOT/chardata.mat at yburda/iwae master (78a6075484bd7dd6f47a4bb9880d2295bc7a5220,
    // the last commit, which added the file), from `git ls-tree -r HEAD datasets/OMNIGLOT` in that repository. Its
    // size is published nowhere we found (the snapshot we read lists the blob without its contents), so it is null;
    // the blob id covers it, since git hashes the length into the header.
    private static readonly DataSetDefinition OmniglotSet = new(
        "omniglot",
        "OMNIGLOT resized to 28x28 by Burda et al. for the IWAE paper: 24,345 training and 8,070 test characters of 50 alphabets (MATLAB .mat: data, testdata, target, testtarget)",
        "MIT (Omniglot, Lake et al. 2015); the 28x28 conversion is published in yburda/iwae, which states no licence",
        "https://github.com/yburda/iwae",
        [
            new("chardata.mat", "https://raw.githubusercontent.com/yburda/iwae/master/datasets/OMNIGLOT/chardata.mat", null,
                ChecksumAlgorithm.GitBlobSha1, "016a3536ffe5e1d38e42563a18d7a78bfaf643ec",
                "yburda/iwae datasets/OMNIGLOT/chardata.mat, git blob id at commit 78a6075484bd7dd6f47a4bb9880d2295bc7a5220"),
        ],
        [
            new("train", ["chardata.mat"]),
            new("test", ["chardata.mat"]),
        ]);

    private const string LarochelleBase = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/";

    // sha256 and size: tensorflow/datasets tensorflow_datasets/url_checksums/binarized_mnist.txt, for these very URLs.
    private const string TfdsBinarized = "tensorflow/datasets tensorflow_datasets/url_checksums/binarized_mnist.txt";

    private static readonly DataSetDefinition BinarizedMnistSet = new(
        "binarized-mnist",
        "MNIST binarised once by Larochelle & Murray (2011): 50,000 training, 10,000 validation and 10,000 test images, no labels (text .amat, one 784-value row per image)",
        "derived from MNIST (CC BY-SA 3.0, Yann LeCun and Corinna Cortes); the host states no other licence",
        "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
        [
            new("binarized_mnist_train.amat", LarochelleBase + "binarized_mnist_train.amat", 78400000, ChecksumAlgorithm.Sha256, "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d", TfdsBinarized),
            new("binarized_mnist_valid.amat", LarochelleBase + "binarized_mnist_valid.amat", 15680000, ChecksumAlgorithm.Sha256, "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2", TfdsBinarized),
            new("binarized_mnist_test.amat", LarochelleBase + "binarized_mnist_test.amat", 15680000, ChecksumAlgorithm.Sha256, "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c", TfdsBinarized),
        ],
        [
            new("train", ["binarized_mnist_train.amat"]),
            new("valid", ["binarized_mnist_valid.amat"]),
            new("test", ["binarized_mnist_test.amat"]),
        ]);

    /// <summary>The four sets this library knows, in the order <c>iwae data list</c> shows them.</summary>
    public static IReadOnlyList<DataSetDefinition> Builtin { get; } = [MnistSet, FashionMnistSet, OmniglotSet, BinarizedMnistSet];

    // Sets added by tests (through InternalsVisibleTo), visible only to the calling flow, so a test that registers
    // one cannot leak it into another running at the same time.
    private static readonly AsyncLocal<IReadOnlyList<DataSetDefinition>?> Extra = new();

    /// <summary>The sets <see cref="Get"/> finds: <see cref="Builtin"/>, then any a test registered.</summary>
    public static IReadOnlyList<DataSetDefinition> Known => Extra.Value is { } extra ? [.. Builtin, .. extra] : Builtin;

    /// <summary>The set called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No such set; the message lists the known names.</exception>
    public static DataSetDefinition Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryGet(name, out var set) ? set
            : throw new ArgumentException($"unknown data set '{name}'; known: {string.Join(", ", Known.Select(s => s.Name))}");
    }

    /// <summary>Whether <paramref name="name"/> is a known set (case-insensitive), and which.</summary>
    public static bool TryGet(string name, out DataSetDefinition set)
    {
        set = Known.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))!;
        return set is not null;
    }

    /// <summary>
    /// The data directory: <c>IWAE_DATA</c> if set; else <c>%LOCALAPPDATA%\iwae</c> on Windows, and
    /// <c>$XDG_DATA_HOME/iwae</c> (else <c>~/.local/share/iwae</c>) on Linux and macOS.
    /// </summary>
    public static string DefaultDirectory()
        => DefaultDirectory(Environment.GetEnvironmentVariable, OperatingSystem.IsWindows(),
                            Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
                            Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData));

    /// <summary><see cref="DefaultDirectory()"/> with its inputs given, for tests.</summary>
    internal static string DefaultDirectory(Func<string, string?> env, bool windows, string home, string localAppData)
    {
        if (env(DirectoryVariable) is { Length: > 0 } dir) return Path.GetFullPath(dir);
        if (windows) return Path.Combine(localAppData, "iwae");
        // The XDG spec says a relative XDG_DATA_HOME is invalid and to be ignored.
        if (env("XDG_DATA_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)) return Path.Combine(xdg, "iwae");
        return Path.Combine(home, ".local", "share", "iwae");
    }

    /// <summary>
    /// Returns <paramref name="dir"/> when it can be a data directory (it is a folder, or can become one), else throws
    /// naming it as <paramref name="what"/> (an option such as "--dir", or "data directory").
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dir"/>, or a folder above it, is a file.</exception>
    public static string CheckDirectory(string dir, string what = "data directory")
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        if (Downloader.FileInTheWay(dir) is not string file) return dir;
        return file == Path.GetFullPath(dir)
            ? throw new ArgumentException($"{what} '{dir}' is a file, not a folder")
            : throw new ArgumentException($"{what} '{dir}' cannot be a folder: {file} is a file");
    }

    /// <summary>The mirror in <c>IWAE_DATA_MIRROR</c>, or null (download from upstream).</summary>
    public static string? DefaultMirror() => Environment.GetEnvironmentVariable(MirrorVariable) is { Length: > 0 } m ? m : null;

    /// <summary>The folder of the set called <paramref name="name"/>: <c>&lt;dir&gt;/&lt;name&gt;</c>.</summary>
    /// <exception cref="ArgumentException">Not a known set.</exception>
    public static string Folder(string name, string dir) => Folder(Get(name), dir);

    /// <summary>The folder of <paramref name="set"/>: <c>&lt;dir&gt;/&lt;set.Name&gt;</c>.</summary>
    public static string Folder(DataSetDefinition set, string dir)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentException.ThrowIfNullOrEmpty(dir);
        return Path.GetFullPath(Path.Combine(dir, set.Name));
    }

    /// <summary>
    /// Whether every file of the set called <paramref name="name"/> is in its folder under <paramref name="dir"/>,
    /// at its published size where there is one. Cheap: checksums are verified by <c>Fetch</c>, which only downloads
    /// what is missing or wrong.
    /// </summary>
    /// <exception cref="ArgumentException">Not a known set.</exception>
    public static bool IsPresent(string name, string dir) => IsPresent(Get(name), dir);

    /// <inheritdoc cref="IsPresent(string, string)"/>
    public static bool IsPresent(DataSetDefinition set, string dir) => FilesPresent(set, dir) == set.Files.Count;

    /// <summary>How many of <paramref name="set"/>'s files are in its folder, at their published size where there is one.</summary>
    public static int FilesPresent(DataSetDefinition set, string dir)
    {
        string folder = Folder(set, dir);
        return set.Files.Count(f => new FileInfo(Path.Combine(folder, f.Name)) is { Exists: true } info && (f.Size is null || info.Length == f.Size));
    }

    /// <summary>The path of every file of the set, in <see cref="DataSetDefinition.Files"/> order (present or not).</summary>
    /// <exception cref="ArgumentException">Not a known set.</exception>
    public static IReadOnlyList<string> Paths(string name, string dir)
    {
        var set = Get(name);
        string folder = Folder(set, dir);
        return [.. set.Files.Select(f => Path.Combine(folder, f.Name))];
    }

    /// <summary>The paths of the files that hold <paramref name="split"/> ("train", "valid", "test") of the set.</summary>
    /// <exception cref="ArgumentException">Not a known set, or the set has no such split.</exception>
    public static IReadOnlyList<string> SplitPaths(string name, string split, string dir)
    {
        var set = Get(name);
        string folder = Folder(set, dir);
        return [.. set.Split(split).Files.Select(f => Path.Combine(folder, f))];
    }

    /// <summary>
    /// The folder of the set called <paramref name="name"/> when it is present; otherwise one line saying how to
    /// fetch it, for a command that was asked for it by name.
    /// </summary>
    /// <exception cref="ArgumentException">Not a known set.</exception>
    /// <exception cref="DataFormatException">The set is not (or not wholly) in <paramref name="dir"/>.</exception>
    public static string Require(string name, string dir)
    {
        var set = Get(name);
        string folder = Folder(set, dir);
        if (!IsPresent(set, dir))
            throw DataFormatException.At(folder, $"data set '{set.Name}' is not there; fetch it with `iwae data fetch {set.Name}`"
                                                 + (Path.GetFullPath(dir) == Path.GetFullPath(DefaultDirectory()) ? "" : $" --dir {dir}"));
        return folder;
    }

    /// <summary>
    /// Downloads the files of the set called <paramref name="name"/> that are not yet in
    /// <c>&lt;dir&gt;/&lt;name&gt;/</c> with their published checksum, resuming any interrupted download (see
    /// <see cref="Downloader"/>). Files already there are verified, not downloaded again, so rerunning is harmless.
    /// </summary>
    /// <param name="name">A known set (<see cref="Known"/>).</param>
    /// <param name="dir">The data directory, e.g. <see cref="DefaultDirectory()"/>.</param>
    /// <param name="mirror">Null for upstream; else a URL under which every file sits by its name
    /// (<c>mirror + "/" + file name</c>). <see cref="DefaultMirror"/> reads <c>IWAE_DATA_MIRROR</c>.</param>
    /// <param name="progress">Called as bytes arrive, on the downloading thread.</param>
    /// <param name="cancel">Stops the download between reads; the partial file stays for the next run to resume.</param>
    /// <returns>Every file of the set, and whether it was downloaded now.</returns>
    /// <exception cref="ArgumentException">Not a known set, or a bad mirror URL.</exception>
    /// <exception cref="DownloadException">The server or network failed (an <see cref="IOException"/>).</exception>
    /// <exception cref="DataFormatException">A file's size or checksum is not the published one; it was deleted.</exception>
    /// <remarks>A refused download leaves nothing it created: no part, and no folder left empty. Files of the set that
    /// were verified before it stay (a rerun does not fetch them again); a part cut by the network stays to be resumed.</remarks>
    public static IReadOnlyList<FetchedFile> Fetch(string name, string dir, string? mirror = null,
                                                   Action<DownloadProgress>? progress = null, CancellationToken cancel = default)
        => Fetch(Get(name), dir, mirror, progress, cancel);

    /// <summary>
    /// <see cref="Fetch(string, string, string?, Action{DownloadProgress}?, CancellationToken)"/> for a set given by
    /// its record, known or not (a private mirror's own set, or a test's).
    /// </summary>
    public static IReadOnlyList<FetchedFile> Fetch(DataSetDefinition set, string dir, string? mirror = null,
                                                   Action<DownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(set);
        set.Validate();
        if (mirror is not null) Downloader.CheckMirror(mirror);
        CheckDirectory(dir);
        string folder = Folder(set, dir);
        using var downloader = new Downloader();
        var fetched = new List<FetchedFile>(set.Files.Count);
        foreach (var file in set.Files)
        {
            cancel.ThrowIfCancellationRequested();
            string path = Path.Combine(folder, file.Name);
            if (Downloader.Matches(path, file, cancel))
            {
                fetched.Add(new FetchedFile(file, path, Downloaded: false));
                continue;
            }
            // A file there with the wrong bytes is replaced: the download lands beside it and is renamed over it.
            downloader.Download(file, folder, mirror, progress, cancel);
            fetched.Add(new FetchedFile(file, path, Downloaded: true));
        }
        return fetched;
    }

    /// <summary>
    /// Adds <paramref name="sets"/> to <see cref="Known"/> for the calling flow until the result is disposed: the
    /// tests' way to give the CLI a set served by a local server.
    /// </summary>
    internal static IDisposable Register(params DataSetDefinition[] sets)
    {
        foreach (var s in sets) s.Validate();
        var previous = Extra.Value;
        Extra.Value = [.. previous ?? [], .. sets];
        return new Restore(() => Extra.Value = previous);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}

/// <summary>A file of a fetched set.</summary>
/// <param name="File">Its record.</param>
/// <param name="Path">Where it is.</param>
/// <param name="Downloaded">True if downloaded by this fetch; false if it was already there and verified.</param>
public sealed record FetchedFile(DataSetFile File, string Path, bool Downloaded);
