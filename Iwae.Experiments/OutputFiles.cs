using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Iwae.Core.Checkpoints;

namespace Iwae.Experiments;

/// <summary>
/// The files a command writes, kept apart from the files it reads and written all together or not at all.
/// <para>
/// <see cref="Check"/> runs before any work: no output may be one of the inputs, two outputs may not be one file, a
/// file output may not be an existing folder nor a folder output an existing file, and the folder an output goes in
/// must be a folder or not exist yet (it is created when the output is written). Paths are compared fully resolved:
/// relative to the working directory, through "." and "..", and through symbolic links.
/// </para>
/// <para>
/// An instance then stages a command's outputs: <see cref="Write"/> writes each under a temporary name beside its own,
/// creating its folder if needed; <see cref="Commit"/> renames them all once every one is written; disposing without a
/// commit deletes the temporaries and the folders it created, so a failure leaves what was there before.
/// </para>
/// Every failure is an <see cref="ArgumentException"/> (a bad path, caught before the work) or an <see cref="IOException"/>
/// (writing failed) whose one-line message names the option and the path.
/// </summary>
public sealed partial class OutputFiles : IDisposable
{
    private readonly List<(string Option, string Path, string Temp)> _staged = [];
    private readonly List<string> _created = [];
    private bool _done;     // committed or disposed

    /// <summary>
    /// Checks a command's outputs against its inputs and each other, before it reads or computes anything, as the class
    /// summary describes. Each entry is an option name (e.g. "--out") and the path given for it; null paths are skipped,
    /// and so are inputs that are not on disk (a data set's name, say; their readers report what is missing).
    /// </summary>
    /// <param name="inputs">Files and folders the command reads.</param>
    /// <param name="files">Files the command writes (a folder output's files too, under the folder's option).</param>
    /// <param name="folders">Folders the command writes into.</param>
    /// <exception cref="ArgumentException">The first problem found, naming the options and paths involved.</exception>
    public static void Check(IEnumerable<(string Option, string? Path)> inputs, IEnumerable<(string Option, string? Path)> files,
        IEnumerable<(string Option, string? Path)>? folders = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(files);
        var read = new List<(string Option, string Path, string Resolved)>();
        foreach (var (option, path) in inputs)
        {
            if (path is null) continue;
            if (path.Length == 0) throw new ArgumentException($"{option} is empty; give a path");
            if (File.Exists(path) || Directory.Exists(path)) read.Add((option, path, Resolve(path)));
        }

        foreach (var (option, path) in folders ?? [])
        {
            if (path is null) continue;
            CheckParent(option, path);
            if (!File.Exists(path)) continue;
            string resolved = Resolve(path);
            foreach (var input in read)
                if (Same(resolved, input.Resolved)) throw new ArgumentException($"{option} {path} is the {input.Option} file; give a folder to write into");
            throw new ArgumentException($"{option} {path} is a file, not a folder");
        }

        var written = new List<(string Option, string Path, string Resolved)>();
        foreach (var (option, path) in files)
        {
            if (path is null) continue;
            CheckParent(option, path);
            if (Directory.Exists(path)) throw new ArgumentException($"{option} {path} is a folder; give the file to write");
            string resolved = Resolve(path);
            foreach (var input in read)
                if (Same(resolved, input.Resolved))
                    throw new ArgumentException($"{option} {path} is the same file as {input.Option} {input.Path}; write the output elsewhere (a command never overwrites its inputs)");
            foreach (var other in written)
                if (Same(resolved, other.Resolved))
                    throw new ArgumentException($"{option} {path} is the same file as {other.Option} {other.Path}; give each output its own name");
            if (IsTrainingCheckpoint(path))
                throw new ArgumentException($"{option} {path} is a run's training checkpoint (its weights, optimiser state and place in the schedule), which this would replace; write the output elsewhere");
            written.Add((option, path, resolved));
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> holds a checkpoint that training writes (and `train --resume` continues): no other
    /// command replaces one, whatever its outputs are called.
    /// </summary>
    private static bool IsTrainingCheckpoint(string path)
    {
        if (!File.Exists(path)) return false;
        try { return SafeTensors.Read(path).Metadata.ContainsKey(RunCheckpoint.TrainKey); }
        catch (CheckpointFormatException) { return false; }     // another kind of file: an ordinary output to replace
    }

    /// <summary>
    /// Writes the output <paramref name="path"/> of <paramref name="option"/>: creates its folder if needed, then calls
    /// <paramref name="write"/> with a temporary name beside it (<paramref name="path"/> + <paramref name="temporarySuffix"/>,
    /// by default ".tmp-&lt;random&gt;"), which the file keeps until <see cref="Commit"/>.
    /// </summary>
    /// <exception cref="IOException">The folder cannot be created or the file cannot be written (the message names both).</exception>
    public void Write(string option, string path, Action<string> write, string? temporarySuffix = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        ObjectDisposedException.ThrowIf(_done, this);
        CreateFolder(option, path);
        string temp = path + (temporarySuffix ?? ".tmp-" + RandomNumberGenerator.GetHexString(12, lowercase: true));
        _staged.Add((option, path, temp));
        try
        {
            write(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option} {path}: cannot write it ({Reason(e)})", e);
        }
    }

    /// <summary>Renames every written output to its own name, replacing what was there; after this, disposing deletes nothing.</summary>
    /// <exception cref="IOException">A rename failed (the outputs not yet renamed are deleted on disposal).</exception>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        for (int i = 0; i < _staged.Count; i++)
        {
            var (option, path, temp) = _staged[i];
            try
            {
                File.Move(temp, path, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _staged.RemoveRange(0, i);
                throw new IOException($"{option} {path}: cannot write it ({Reason(e)})", e);
            }
        }
        _done = true;
    }

    /// <summary>Without a <see cref="Commit"/>: deletes the temporary files and the folders <see cref="Write"/> created, if empty.</summary>
    public void Dispose()
    {
        if (_done) return;
        _done = true;
        // Best effort: a failure to clean up must not hide the failure being reported.
        foreach (var (_, _, temp) in _staged)
        {
            try { File.Delete(temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        for (int i = _created.Count - 1; i >= 0; i--)
        {
            try { Directory.Delete(_created[i], recursive: false); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // not empty, or gone: leave it
        }
    }

    /// <summary>
    /// <paramref name="path"/> with every symbolic link on the way resolved and "." and ".." applied in the order the file
    /// system applies them (a link's ".." is its target's parent); relative paths start at the working directory.
    /// </summary>
    public static string Resolve(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Resolve(path, depth: 0);
    }

    // Links are followed at most this deep, as the kernel's ELOOP limit does; deeper the path is left as it stands.
    private const int MaxLinkDepth = 40;

    private static string Resolve(string path, int depth)
    {
        string full = System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(Directory.GetCurrentDirectory(), path);
        string root = System.IO.Path.GetPathRoot(full)!;
        string current = root;
        foreach (var part in full[root.Length..].Split([System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..")
            {
                current = System.IO.Path.GetDirectoryName(current) ?? current;
                continue;
            }
            string next = System.IO.Path.Combine(current, part);
            if (depth < MaxLinkDepth && LinkTarget(next) is string target)
                next = Resolve(System.IO.Path.Combine(current, target), depth + 1);      // an absolute target replaces current
            current = next;
        }
        return current;
    }

    private static string? LinkTarget(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    // Windows and macOS file systems ignore case by default; elsewhere two spellings are two files.
    private static bool Same(string a, string b) =>
        string.Equals(a, b, OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>The path is not empty and the nearest existing folder on its way is a folder, not a file.</summary>
    private static void CheckParent(string option, string path)
    {
        if (path.Length == 0) throw new ArgumentException($"{option} is empty; give a path");
        for (string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)); dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
        {
            if (Directory.Exists(dir)) return;
            if (File.Exists(dir)) throw new ArgumentException($"{option} {path}: {dir} is a file, not a folder");
        }
    }

    private void CreateFolder(string option, string path)
    {
        string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir is null || Directory.Exists(dir)) return;
        var missing = new List<string>();
        for (string? d = dir; d is not null && !Directory.Exists(d); d = System.IO.Path.GetDirectoryName(d)) missing.Add(d);
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option} {path}: cannot create the folder {dir} ({Reason(e)})", e);
        }
        missing.Reverse();      // outermost first, so disposal removes the innermost first
        _created.AddRange(missing);
    }

    // The failure in words, without the temporary name: .NET's messages quote the path the system call was given
    // ("No space left on device : '/x/m.safetensors.tmp-…'"), which is ours, not the user's.
    private static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "no such file or folder",
        _ => QuotedPath().Replace(e.Message, "").TrimEnd('.', ' ').ReplaceLineEndings(" "),
    };

    [GeneratedRegex(@"\s*:?\s*'[^']*'")]
    private static partial Regex QuotedPath();
}
