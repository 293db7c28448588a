// What the managed-apps commands do, with the VS Code UI behind a small interface so the flows
// (edit and validate values, refuse busy apps, offer logs on failure) run in plain mocha. The
// extension's adapter maps ManagedAppsUi onto quick picks, an editor and notifications.
import type { LogTarget } from '../../../webviews/logview/messages';
import { userMessage } from '../kas_client/errors';
import { catalogApp, type Catalog, type CatalogApp } from './catalog';
import { ManagedAppsError } from './errors';
import type { AppStatus, ManagedAppsModel } from './model';
import { BUSY_STATES, type AppState } from './state';
import { parseHelmValues } from './values';

export interface ManagedAppsUi {
  /** Lets the user choose among `apps`; undefined when dismissed. */
  pickApp(apps: AppStatus[], placeholder: string): Promise<string | undefined>;
  /** Lets the user edit values; `problem` explains why the previous text was refused. Undefined: cancelled. */
  editValues(app: CatalogApp, text: string, problem?: string): Promise<string | undefined>;
  confirm(message: string, action: string): Promise<boolean>;
  info(message: string): void;
  /** Shows an error with optional actions; resolves with the chosen one. */
  error(message: string, actions?: string[]): Promise<string | undefined>;
  openLiveLog(target: LogTarget): void;
  openSavedLog(title: string, text: string): Promise<void>;
}

const FAILED_STATES: ReadonlySet<AppState> = new Set(['errored', 'update_errored', 'uninstall_errored']);
const SHOW_LOGS = 'Show Logs';

export class ManagedAppsActions {
  constructor(
    private readonly model: ManagedAppsModel,
    private readonly catalog: Catalog,
    private readonly ui: ManagedAppsUi,
  ) {}

  /** Install or upgrade: pick, edit values until valid (or cancelled), start, stream its log. */
  async install(appName?: string): Promise<LogTarget | undefined> {
    const name =
      appName ??
      (await this.ui.pickApp(
        this.model.apps().filter((a) => !BUSY_STATES.has(a.state)),
        'App to install or upgrade',
      ));
    if (!name) return undefined;
    const app = catalogApp(this.catalog, name);
    this.refuseIfBusy(name);
    const values = await this.editUntilValid(app);
    if (values === undefined) return undefined;
    const target = await this.model.install(name, values);
    this.ui.openLiveLog(target);
    this.offerLogsOnFailure(name);
    return target;
  }

  async uninstall(appName?: string): Promise<LogTarget | undefined> {
    const removable = this.model.apps().filter((a) => !BUSY_STATES.has(a.state) && a.state !== 'installable');
    const name = appName ?? (await this.ui.pickApp(removable, 'App to uninstall'));
    if (!name) return undefined;
    const app = catalogApp(this.catalog, name);
    this.refuseIfBusy(name);
    if (!(await this.ui.confirm(`Uninstall ${app.title} (helm release in gitlab-managed-apps)?`, 'Uninstall'))) return undefined;
    const target = await this.model.uninstall(name);
    this.ui.openLiveLog(target);
    this.offerLogsOnFailure(name);
    return target;
  }

  /** Live while the helm pod exists, else the log saved when it ended. */
  async showLogs(appName?: string): Promise<void> {
    const name = appName ?? (await this.ui.pickApp(this.model.apps(), 'Show the helm log of'));
    if (!name) return;
    const live = this.model.logTarget(name);
    if (live) return this.ui.openLiveLog(live);
    const saved = await this.model.readLog(name);
    if (!saved) {
      this.ui.info(`${name} has no helm log yet.`);
      return;
    }
    await this.ui.openSavedLog(`${name} ${saved.action ?? 'helm'} log`, saved.text);
  }

  private refuseIfBusy(name: string): void {
    if (this.model.isBusy(name))
      throw new ManagedAppsError('APP_BUSY', `${name} is already being installed or uninstalled; wait until it finishes`);
  }

  private async editUntilValid(app: CatalogApp): Promise<string | undefined> {
    let text = this.model.currentValues(app.name);
    let problem: string | undefined;
    for (;;) {
      const edited = await this.ui.editValues(app, text, problem);
      if (edited === undefined) return undefined;
      try {
        parseHelmValues(edited);
        return edited;
      } catch (error) {
        text = edited;
        problem = userMessage(error);
      }
    }
  }

  /** When this run fails, say so and offer the pod's logs (the pod is kept for them). */
  private offerLogsOnFailure(name: string): void {
    let sawBusy = false;
    const unsubscribe = this.model.onDidChange(() => {
      const state = this.model.state(name);
      if (BUSY_STATES.has(state)) sawBusy = true;
      if (!sawBusy || BUSY_STATES.has(state)) return;
      unsubscribe();
      if (!FAILED_STATES.has(state)) return;
      void this.ui
        .error(`${name}: ${state.replace(/_/g, ' ')}. The helm pod is kept for its logs.`, [SHOW_LOGS])
        .then((choice) => (choice === SHOW_LOGS ? this.showLogs(name) : undefined))
        .catch((error: unknown) => {
          void this.ui.error(userMessage(error));
        });
    });
  }
}
