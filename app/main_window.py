"""The distill-studio window: Dataset -> Train -> Explore, menus, drops, status bar.

Main thread only. The window owns the settings, the audio controller and the panels; it
routes drops to the dataset panel, datasets to training, finished models to Explore, and
makes sure closing never loses work (training is asked about, stopped, joined and saved).
A second start reopens what was in use when the studio closed (the dataset or the model:
``AppSettings.last_session``); when it is gone the Dataset tab's empty page says so and
offers the recent datasets and the demo.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
)

from app.dataset.dataset_panel import DatasetPanel
from app.explore.explore_panel import ExplorePanel
from app.services import dialogs
from app.services.audio_controller import AudioController
from app.services.resources import demo_dataset
from app.services.settings import AppSettings
from app.train.train_panel import TrainPanel
from app.widgets.audio_menu import AudioMenu
from distill.constants import MODEL_SUFFIX
from distill.training.config import TrainingConfig
from distill.training.device import describe_device, select_device

log = logging.getLogger(__name__)

TAB_DATASET, TAB_TRAIN, TAB_EXPLORE = range(3)


class MainWindow(QMainWindow):
    """The studio. Settings, audio and folders may be given (tests, the smoke test);
    otherwise the user's. ``load_demo`` None: load the demo dataset on the first start and
    reopen the last session on later ones; True: the demo; False: open nothing."""

    modelOpened = Signal(object)  # Path

    def __init__(self, settings: AppSettings | None = None, audio: AudioController | None = None,
                 cache_dir: Path | None = None, models_dir: Path | None = None,
                 checkpoint_dir: Path | None = None, load_demo: bool | None = None) -> None:
        super().__init__()
        self.setWindowTitle("distill-studio")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings()
        self.audio = audio or AudioController(self, settings=self.settings)
        self.dataset_panel = DatasetPanel(self.settings, self.audio, self, cache_dir=cache_dir)
        self.train_panel = TrainPanel(self.settings, self.audio, self, cache_dir=cache_dir,
                                      models_dir=models_dir, checkpoint_dir=checkpoint_dir)
        self.explore_panel = ExplorePanel(self.audio, self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.dataset_panel, "1  Dataset")
        self.tabs.addTab(self.train_panel, "2  Train")
        self.tabs.addTab(self.explore_panel, "3  Explore")
        self.setCentralWidget(self.tabs)
        self._model_path: Path | None = None
        self._reopening: tuple[str, Path] | None = None  # the last session, until it opens
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._restore()
        self._update_tabs()
        if load_demo is None:
            QTimer.singleShot(0, self._start_session)
        elif load_demo:
            QTimer.singleShot(0, self.load_demo_dataset)

    # ------------------------------------------------------------------ building
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        keys = QKeySequence.StandardKey
        self.open_dataset_action = self._action(file_menu, "Open &dataset folder…", keys.Open,
                                                self.open_dataset_dialog)
        self.open_model_action = self._action(file_menu, "Open &model…", "Ctrl+Shift+O",
                                              self.open_model_dialog)
        self.save_model_action = self._action(file_menu, "&Save model as…", keys.SaveAs,
                                              self.save_model_dialog)
        file_menu.addSeparator()
        self.recent_datasets_menu = file_menu.addMenu("Recent datasets")
        self.recent_models_menu = file_menu.addMenu("Recent models")
        self._action(file_menu, "Load the &demo dataset", None, self.load_demo_dataset)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        for menu, kind in ((self.recent_datasets_menu, "datasets"), (self.recent_models_menu, "models")):
            menu.aboutToShow.connect(lambda m=menu, k=kind: self._fill_recent(m, k))
        self.audio_menu = AudioMenu(self.audio, self)
        self.menuBar().addMenu(self.audio_menu)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", "F1", lambda: dialogs.show_shortcuts(self))
        self._action(help_menu, "Open the &log folder", None, self._open_log_folder)
        self._action(help_menu, "&About distill-studio", None, lambda: dialogs.show_about(self))

    def _action(self, menu: QMenu, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel(describe_device(select_device(TrainingConfig().device)), self)
        self.device_label.setToolTip("Where training and rendering run")
        self.subject_label = QLabel("no dataset", self)
        self.audio_label = QLabel(self.audio.state, self)
        for label in (self.subject_label, self.device_label, self.audio_label):
            bar.addPermanentWidget(label)

    def _connect(self) -> None:
        dp, tp = self.dataset_panel, self.train_panel
        dp.message.connect(self.show_message)
        dp.errorOccurred.connect(self.show_error)
        dp.datasetLoaded.connect(self._on_dataset_loaded)
        dp.openRequested.connect(lambda path: self.load_paths([path]))
        dp.demoRequested.connect(self.load_demo_dataset)
        dp.errorOccurred.connect(self._forget_reopening)
        self.explore_panel.modelFailed.connect(self._forget_reopening)
        dp.busyChanged.connect(lambda _busy: self._update_tabs())  # Train needs panel.cache
        tp.message.connect(self.show_message)
        tp.errorOccurred.connect(self.show_error)
        tp.busyChanged.connect(lambda _busy: self._update_tabs())
        tp.modelReady.connect(self.open_model)
        self.explore_panel.modelOpened.connect(self._on_model_opened)
        self.explore_panel.modelFailed.connect(self.show_error)
        self.audio.stateChanged.connect(self.audio_label.setText)
        self.audio_menu.message.connect(self.show_message)

    def _restore(self) -> None:
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        if state is not None:
            self.restoreState(state)

    # ------------------------------------------------------------------ the last session
    def _start_session(self) -> None:
        if (self.dataset_panel.is_busy or self.dataset_panel.cache is not None
                or self.explore_panel.is_loading or self.explore_panel.has_model):
            return  # files named on the command line came first
        if not self.settings.value("app/first_start_done", False):
            self.load_demo_dataset()
        else:
            self.reopen_last_session()

    def reopen_last_session(self) -> None:
        """Reopen the dataset or model in use when the studio last closed (a dataset comes
        from its cache). When it is gone, the empty page says so and offers the others."""
        last = self.settings.last_session()
        if last is None:
            return
        kind, path = last
        if not path.exists():
            notice = f"The {kind} open last time is gone: {path}"
            log.info("last session not reopened: %s", notice)
            self.tabs.setCurrentIndex(TAB_DATASET)
            self.dataset_panel.show_empty(notice)
            return
        # Stored again once it opens: a file that fails to open is not retried at every start.
        self.settings.clear_last_session()
        self._reopening = last
        log.info("reopening the last %s: %s", kind, path)
        if kind == "dataset":
            self.load_paths([path])
        else:
            self.open_model(path)

    def _forget_reopening(self, _message: str = "") -> None:
        self._reopening = None

    def _remember_session(self) -> None:
        """What is in use now, for the next start: the model on the Explore tab (or when no
        dataset is loaded), else the dataset; a reopen still running is kept as it was."""
        cache = self.dataset_panel.cache
        if self._model_path is not None and (self.tabs.currentIndex() == TAB_EXPLORE or cache is None):
            self.settings.set_last_session("model", self._model_path)
        elif cache is not None:
            self.settings.set_last_session("dataset", cache.report.folder)
        elif self._reopening is not None:
            self.settings.set_last_session(*self._reopening)

    # ------------------------------------------------------------------ datasets
    def open_dataset_dialog(self) -> None:
        start = self.settings.value("app/last_folder", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of sounds", start)
        if folder:
            self.settings.set_value("app/last_folder", folder)
            self.load_paths([Path(folder)])

    def load_demo_dataset(self) -> None:
        self.settings.set_value("app/first_start_done", True)
        folder = demo_dataset()
        if folder.is_dir():
            self.load_paths([folder])
        else:
            self.show_message(f"The demo dataset is missing ({folder})")

    def load_paths(self, paths: list[Path]) -> None:
        if self.train_panel.is_busy:
            self.show_message("Training is running: stop it before loading another dataset.")
            return
        self.tabs.setCurrentIndex(TAB_DATASET)
        self.dataset_panel.load_paths(paths)

    def _on_dataset_loaded(self, cache) -> None:
        folder = cache.report.folder
        self.settings.add_recent("datasets", folder)
        self.settings.set_last_session("dataset", folder)
        self._reopening = None
        summary = cache.report.summary
        log.info("dataset loaded: %s (%d files, %d clips, %d skipped)", folder, summary.ok,
                 summary.clips, summary.skipped)
        self.subject_label.setText(
            f"dataset: {Path(folder).name} ({summary.ok} files, {summary.clips} clips)")
        self.train_panel.set_dataset(cache)
        self._update_tabs()

    # ------------------------------------------------------------------ models
    def open_model_dialog(self) -> None:
        start = self.settings.value("app/last_model_folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", start,
                                              f"distill models (*{MODEL_SUFFIX});;All files (*)")
        if path:
            self.settings.set_value("app/last_model_folder", str(Path(path).parent))
            self.open_model(Path(path))

    def open_model(self, path: Path) -> None:
        """Open a model in Explore; it loads in a worker (``modelOpened`` when shown, errors in a box)."""
        self.show_message(f"Opening {Path(path).name}…")
        self.explore_panel.open_model(Path(path))

    def _on_model_opened(self, path: Path) -> None:
        self.show_message(f"Opened {Path(path).name}")
        self._model_path = Path(path)
        self.settings.add_recent("models", path)
        self.settings.set_last_session("model", path)
        self._reopening = None
        self.subject_label.setText(f"model: {Path(path).name}")
        self._update_tabs()
        self.tabs.setCurrentIndex(TAB_EXPLORE)
        self.modelOpened.emit(Path(path))

    def save_model_dialog(self) -> None:
        if self._model_path is None:
            self.show_message("No model yet: train one or open a model file first.")
            return
        target, _ = QFileDialog.getSaveFileName(self, "Save model as", str(self._model_path),
                                                f"distill models (*{MODEL_SUFFIX})")
        if not target:
            return
        target_path = Path(target).with_suffix(MODEL_SUFFIX)
        try:
            dialogs.copy_file_atomically(self._model_path, target_path)
        except OSError as exc:
            self.show_error(f"Could not save the model to {target_path}: {exc.strerror or exc}")
            return
        self.settings.add_recent("models", target_path)
        self.show_message(f"Model saved to {target_path}")

    def _fill_recent(self, menu: QMenu, kind: str) -> None:
        menu.clear()
        items = self.settings.recent(kind)
        for item in items:
            action = menu.addAction(item)
            if kind == "datasets":
                action.triggered.connect(lambda _=False, p=item: self.load_paths([Path(p)]))
            else:
                action.triggered.connect(lambda _=False, p=item: self.open_model(Path(p)))
        if not items:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear", lambda: self.settings.clear_recent(kind))

    # ------------------------------------------------------------------ drops
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        models = [p for p in paths if p.suffix == MODEL_SUFFIX]
        event.acceptProposedAction()
        if models:
            self.open_model(models[0])
        elif paths:
            self.load_paths(paths)

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_error(self, text: str) -> None:
        log.warning("shown to the user: %s", text)
        QMessageBox.warning(self, "distill-studio", text)

    def _open_log_folder(self) -> None:
        from app.services.exception_hook import log_file

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file().parent)))

    def _update_tabs(self) -> None:
        self.tabs.setTabEnabled(TAB_TRAIN, self.dataset_panel.cache is not None or self.train_panel.is_busy)
        self.tabs.setTabEnabled(TAB_EXPLORE, self.explore_panel.has_model)
        self.save_model_action.setEnabled(self._model_path is not None)
        self.open_dataset_action.setEnabled(not self.train_panel.is_busy)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.train_panel.is_busy:
            answer = QMessageBox.question(
                self, "Training is running",
                "Stop training and quit? What was trained so far is saved as a model.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.train_panel.shutdown()
        self.dataset_panel.shutdown()
        self.explore_panel.shutdown()
        self.audio.close()
        self._remember_session()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        event.accept()
